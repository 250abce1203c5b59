#include "common/auth/ed25519_key.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// RFC 8032 §7.1, test 1, as an unencrypted PKCS#8 PEM.
constexpr char kRfc8032Pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kRfc8032PublicHex[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfc8032EmptyMessageSignatureHex[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";

// RFC 8410 §10.3 and §10.1: the same form `openssl genpkey -algorithm
// ed25519` and `openssl pkey -pubout` write.
constexpr char kRfc8410PrivatePem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kRfc8410PublicPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n";

std::string FromHex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
  return std::string(data, static_cast<size_t>(size));
}

// PEMs of other key types, made in code (no `openssl` binary in unit tests).
std::string PrivatePem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return BioText(bio.get());
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  return BioText(bio.get());
}

TEST(Ed25519KeyTest, SignsAndVerifies) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const Ed25519PublicKey public_key = key.public_key();
  const std::string signature = key.Sign("message");
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(public_key.Verify("message", signature));
  EXPECT_FALSE(public_key.Verify("messagE", signature));
  EXPECT_FALSE(public_key.Verify("message", signature.substr(0, 63)));
  EXPECT_FALSE(public_key.Verify("message", signature + "x"));
  EXPECT_FALSE(public_key.Verify("message", ""));
  std::string flipped = signature;
  flipped[10] ^= 0x01;
  EXPECT_FALSE(public_key.Verify("message", flipped));
  // Another key's signature.
  EXPECT_FALSE(public_key.Verify("message", Ed25519PrivateKey::Generate()->Sign("message")));
  EXPECT_TRUE(public_key.Verify("", key.Sign("")));
}

TEST(Ed25519KeyTest, MatchesRfc8032TestVector) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(kRfc8032Pem);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->public_key().raw(), FromHex(kRfc8032PublicHex));
  EXPECT_EQ(key->Sign(""), FromHex(kRfc8032EmptyMessageSignatureHex));
}

TEST(Ed25519KeyTest, VerifiesRfc8037JwsExample) {
  // RFC 8037 appendix A.4: an EdDSA JWS by the RFC 8032 test key.
  absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromRaw(FromHex(kRfc8032PublicHex));
  ASSERT_TRUE(key.ok()) << key.status();
  std::string signature;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
      &signature));
  EXPECT_TRUE(key->Verify("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc", signature));
  EXPECT_FALSE(key->Verify("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd", signature));
}

TEST(Ed25519KeyTest, ReadsOpensslPems) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(kRfc8410PrivatePem);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<Ed25519PublicKey> public_key = Ed25519PublicKey::FromPem(kRfc8410PublicPem);
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  EXPECT_EQ(key->public_key().raw(), public_key->raw());
  EXPECT_EQ(key->public_key().raw(),
            FromHex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"));
  // We write exactly what openssl writes.
  EXPECT_EQ(key->ToPem(), kRfc8410PrivatePem);
  EXPECT_EQ(public_key->ToPem(), kRfc8410PublicPem);
}

TEST(Ed25519KeyTest, PemRoundTrip) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const std::string pem = key.ToPem();
  EXPECT_THAT(pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  absl::StatusOr<Ed25519PrivateKey> again = Ed25519PrivateKey::FromPem(pem);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->public_key().raw(), key.public_key().raw());
  EXPECT_EQ(again->ToPem(), pem);
  EXPECT_TRUE(key.public_key().Verify("m", again->Sign("m")));

  const std::string public_pem = key.public_key().ToPem();
  EXPECT_THAT(public_pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  absl::StatusOr<Ed25519PublicKey> public_again = Ed25519PublicKey::FromPem(public_pem);
  ASSERT_TRUE(public_again.ok()) << public_again.status();
  EXPECT_EQ(public_again->raw(), key.public_key().raw());
  EXPECT_TRUE(public_again->Verify("m", key.Sign("m")));

  absl::StatusOr<Ed25519PublicKey> from_raw = Ed25519PublicKey::FromRaw(key.public_key().raw());
  ASSERT_TRUE(from_raw.ok()) << from_raw.status();
  EXPECT_EQ(from_raw->ToPem(), public_pem);
}

TEST(Ed25519KeyTest, KidIsStable) {
  // Pinned: services look keys up by it, so it must never change.
  EXPECT_EQ(Ed25519PublicKey::FromRaw(FromHex(kRfc8032PublicHex))->Kid(), "If4x36FUomFia_hU");
  EXPECT_EQ(Ed25519PublicKey::FromPem(kRfc8410PublicPem)->Kid(), "50TAeRMgwyhUYO3b");

  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const std::string kid = key.public_key().Kid();
  EXPECT_EQ(kid.size(), 16u);
  for (char c : kid) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << kid;
  }
  EXPECT_EQ(key.public_key().Kid(), kid);
  EXPECT_EQ(Ed25519PrivateKey::FromPem(key.ToPem())->public_key().Kid(), kid);
  EXPECT_EQ(Ed25519PublicKey::FromRaw(key.public_key().raw())->Kid(), kid);
  EXPECT_NE(Ed25519PrivateKey::Generate()->public_key().Kid(), kid);
}

TEST(Ed25519KeyTest, CopiesShareTheKey) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  Ed25519PrivateKey copy = key;
  Ed25519PublicKey public_copy = key.public_key();
  EXPECT_TRUE(public_copy.Verify("m", copy.Sign("m")));
  copy = *Ed25519PrivateKey::Generate();
  EXPECT_FALSE(public_copy.Verify("m", copy.Sign("m")));
  EXPECT_TRUE(public_copy.Verify("m", key.Sign("m")));
}

TEST(Ed25519KeyTest, RefusesOtherKeyTypes) {
  PkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), EVP_PKEY_free);
  PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  // Same curve family and OID arc as Ed25519, but a key-agreement key.
  PkeyPtr x25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"), EVP_PKEY_free);
  PkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"), EVP_PKEY_free);
  for (EVP_PKEY* other : {rsa.get(), ec.get(), x25519.get(), ed448.get()}) {
    ASSERT_NE(other, nullptr);
    const std::string type = EVP_PKEY_get0_type_name(other);
    const std::string private_pem = PrivatePem(other);
    absl::StatusOr<Ed25519PrivateKey> as_private = Ed25519PrivateKey::FromPem(private_pem);
    EXPECT_EQ(as_private.status().code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_THAT(as_private.status().message(), HasSubstr("not an Ed25519 key")) << type;
    EXPECT_THAT(as_private.status().message(), HasSubstr(type));

    const std::string public_pem = PublicPem(other);
    absl::StatusOr<Ed25519PublicKey> as_public = Ed25519PublicKey::FromPem(public_pem);
    EXPECT_EQ(as_public.status().code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_THAT(as_public.status().message(), HasSubstr("not an Ed25519 key")) << type;
  }
}

TEST(Ed25519KeyTest, RefusesEncryptedPemWithoutPrompting) {
  PkeyPtr pkey(nullptr, EVP_PKEY_free);
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(kRfc8410PrivatePem, sizeof(kRfc8410PrivatePem) - 1), BIO_free);
    pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  ASSERT_NE(pkey, nullptr);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  char passphrase[] = "correct horse";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey.get(), EVP_aes_256_cbc(), passphrase,
                                          sizeof(passphrase) - 1, nullptr, nullptr),
            1);
  const std::string encrypted = BioText(bio.get());
  ASSERT_THAT(encrypted, StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  absl::StatusOr<Ed25519PrivateKey> parsed = Ed25519PrivateKey::FromPem(encrypted);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("unencrypted"));
}

TEST(Ed25519KeyTest, RefusesGarbage) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const std::string private_pem = key.ToPem();
  const std::string public_pem = key.public_key().ToPem();
  // The wrong half.
  EXPECT_EQ(Ed25519PrivateKey::FromPem(public_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromPem(private_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Not PEM, truncated, corrupted, oversized.
  // "MC4C" -> "MCAC": the outer DER SEQUENCE length no longer fits.
  std::string corrupted = private_pem;
  corrupted.replace(corrupted.find("MC4C"), 4, "MCAC");
  for (const std::string& pem :
       {std::string(), std::string("garbage"), private_pem.substr(0, private_pem.size() / 2),
        corrupted, std::string(1 << 20, 'A'), std::string("\0\0\0", 3)}) {
    absl::StatusOr<Ed25519PrivateKey> parsed = Ed25519PrivateKey::FromPem(pem);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    // Errors say what is wrong, never echo key material.
    EXPECT_FALSE(absl::StrContains(parsed.status().message(), "MC4C"));
    EXPECT_EQ(Ed25519PublicKey::FromPem(pem).status().code(), absl::StatusCode::kInvalidArgument);
  }
  for (const std::string& raw : {std::string(), std::string("short"), std::string(31, 'a'),
                                 std::string(33, 'a'), key.ToPem()}) {
    EXPECT_EQ(Ed25519PublicKey::FromRaw(raw).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(Ed25519PublicKey::FromRaw("short").status().message(), HasSubstr("32 bytes"));
  // Failures leave nothing behind on OpenSSL's error queue.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace crm::auth
