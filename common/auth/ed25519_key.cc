#include "common/auth/ed25519_key.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace crm::auth {
namespace {

constexpr size_t kRawKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;
constexpr size_t kKidChars = 16;
// Far above any Ed25519 PEM (~120 bytes); keeps the size_t -> int cast for
// BIO_new_mem_buf safe.
constexpr size_t kMaxPemBytes = 16 * 1024;

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A failed parse leaves entries on OpenSSL's per-thread error queue; drop them
// so they do not surface later in an unrelated OpenSSL call (gRPC's TLS).
absl::Status Invalid(absl::string_view message) {
  ERR_clear_error();
  return absl::InvalidArgumentError(message);
}

absl::Status NotEd25519(const EVP_PKEY* key) {
  const char* type = EVP_PKEY_get0_type_name(key);
  return Invalid(absl::StrCat("not an Ed25519 key (the PEM holds a ",
                              type == nullptr ? "different" : type, " key)"));
}

// Never prompts on the terminal for an encrypted PEM's passphrase (OpenSSL's
// default when no callback is given): a service must fail, not hang.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
}

std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
  return size <= 0 ? std::string() : std::string(data, static_cast<size_t>(size));
}

}  // namespace

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::Adopt(EVP_PKEY* key) {
  std::shared_ptr<EVP_PKEY> owned = Share(key);
  if (!EVP_PKEY_is_a(key, "ED25519")) {
    return NotEd25519(key);
  }
  std::string raw(kRawKeyBytes, '\0');
  size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &length) !=
          1 ||
      length != kRawKeyBytes) {
    return Invalid("cannot read the Ed25519 public key");
  }
  return Ed25519PublicKey(std::move(owned), std::move(raw));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(absl::string_view raw) {
  if (raw.size() != kRawKeyBytes) {
    return Invalid(absl::StrCat("an Ed25519 public key is 32 bytes, not ", raw.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(raw), kRawKeyBytes);
  if (key == nullptr) {
    return Invalid("not an Ed25519 public key");
  }
  return Adopt(key);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Invalid("public key PEM is too large");
  }
  BioPtr bio = ReadBio(pem);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr);
  if (key == nullptr) {
    return Invalid("not a PEM public key (expected BEGIN PUBLIC KEY)");
  }
  return Adopt(key);
}

std::string Ed25519PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    ERR_clear_error();
    return std::string();
  }
  return DrainBio(bio.get());
}

bool Ed25519PublicKey::Verify(absl::string_view message, absl::string_view signature) const {
  if (signature.size() != kSignatureBytes) {
    return false;
  }
  // One context per thread, reset after each use: verification runs on the
  // request path, and a fresh context would be an allocation per call.
  thread_local MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  // Ed25519 hashes internally: the digest must be NULL.
  const bool ok = ctx != nullptr &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                                   message.size()) == 1;
  if (ctx != nullptr) {
    EVP_MD_CTX_reset(ctx.get());
  }
  if (!ok) {
    ERR_clear_error();
  }
  return ok;
}

std::string Ed25519PublicKey::Kid() const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(Bytes(raw_), raw_.size(), digest);
  std::string encoded = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  encoded.resize(kKidChars);
  return encoded;
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Adopt(EVP_PKEY* key) {
  std::shared_ptr<EVP_PKEY> owned = Share(key);
  if (!EVP_PKEY_is_a(key, "ED25519")) {
    return NotEd25519(key);
  }
  unsigned char raw[kRawKeyBytes];
  size_t length = sizeof(raw);
  if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 || length != kRawKeyBytes) {
    return Invalid("cannot derive the Ed25519 public key");
  }
  // A public-only copy, so public_key() never carries the private half around.
  absl::StatusOr<Ed25519PublicKey> public_key =
      Ed25519PublicKey::FromRaw(absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
  if (!public_key.ok()) {
    return public_key.status();
  }
  return Ed25519PrivateKey(std::move(owned), *std::move(public_key));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InternalError("Ed25519 key generation failed");
  }
  return Adopt(key);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Invalid("private key PEM is too large");
  }
  BioPtr bio = ReadBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  if (key == nullptr) {
    return Invalid("not an unencrypted PEM private key (expected BEGIN PRIVATE KEY)");
  }
  return Adopt(key);
}

std::string Ed25519PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  // PEM_write_bio_PrivateKey writes PKCS#8, the same form `openssl genpkey` does.
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return std::string();
  }
  return DrainBio(bio.get());
}

std::string Ed25519PrivateKey::Sign(absl::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(kSignatureBytes, '\0');
  size_t length = signature.size();
  // Ed25519 hashes internally: the digest must be NULL.
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     Bytes(message), message.size()) != 1 ||
      length != kSignatureBytes) {
    ERR_clear_error();
    return std::string();
  }
  return signature;
}

}  // namespace crm::auth
