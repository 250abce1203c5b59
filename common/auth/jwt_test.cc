#include "common/auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : key_(*Ed25519PrivateKey::Generate()), public_key_(key_.public_key()) {}

  AccessClaims Claims() const {
    AccessClaims claims;
    claims.issuer = "crm-auth";
    claims.audience = "crm";
    claims.subject = 42;
    claims.role = "AGENT";
    claims.issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now_));
    claims.expires_at = claims.issued_at + absl::Minutes(15);
    claims.jwt_id = "jti-1";
    return claims;
  }

  absl::StatusOr<AccessClaims> Verify(absl::string_view token) const {
    return VerifyAccessToken(
        token,
        [this](absl::string_view kid) -> const Ed25519PublicKey* {
          return kid == public_key_.Kid() ? &public_key_ : nullptr;
        },
        VerifyOptions{.issuer = "crm-auth", .audience = "crm", .now = now_});
  }

  // A token with this header and payload JSON, signed by `key_` (or given a
  // raw signature).
  std::string Make(const std::string& header, const std::string& payload) const {
    const std::string input =
        absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(payload));
    return absl::StrCat(input, ".", absl::WebSafeBase64Escape(key_.Sign(input)));
  }

  std::string Header() const {
    return absl::StrCat(R"({"alg":"EdDSA","typ":"at+jwt","kid":")", public_key_.Kid(), "\"}");
  }

  std::string Payload(const std::string& extra = "", int64_t lifetime = 900) const {
    const int64_t iat = absl::ToUnixSeconds(now_);
    return absl::StrCat(R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x",)",
                        "\"iat\":", iat, ",\"exp\":", iat + lifetime, extra, "}");
  }

  const absl::Time now_ = absl::Now();
  Ed25519PrivateKey key_;
  Ed25519PublicKey public_key_;
};

TEST_F(JwtTest, RoundTrip) {
  auto claims = Verify(SignAccessToken(Claims(), key_));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, 42);
  EXPECT_EQ(claims->role, "AGENT");
  EXPECT_EQ(claims->jwt_id, "jti-1");
  EXPECT_EQ(*PeekKid(SignAccessToken(Claims(), key_)), public_key_.Kid());
  EXPECT_TRUE(Verify(Make(Header(), Payload())).ok());
}

TEST_F(JwtTest, TamperingIsDetected) {
  const std::string token = SignAccessToken(Claims(), key_);
  const size_t first = token.find('.');
  const size_t second = token.rfind('.');
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token.substr(first + 1, second - first - 1), &payload));
  const std::string admin = absl::StrReplaceAll(payload, {{"AGENT", "ADMIN"}});
  const std::string forged = absl::StrCat(token.substr(0, first + 1),
                                          absl::WebSafeBase64Escape(admin), token.substr(second));
  EXPECT_EQ(Verify(forged).status().message(), "token signature invalid");
  std::string bad_signature = token;
  bad_signature[bad_signature.size() - 2] ^= 1;
  EXPECT_FALSE(Verify(bad_signature).ok());
}

TEST_F(JwtTest, AlgorithmIsPinned) {
  const std::string payload = absl::WebSafeBase64Escape(Payload());
  // alg none, no signature.
  const std::string none =
      absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"none","typ":"at+jwt","kid":")" +
                                             public_key_.Kid() + "\"}"),
                   ".", payload, ".");
  EXPECT_EQ(Verify(none).status().code(), absl::StatusCode::kUnauthenticated);
  // HS256 keyed with the public key (raw bytes, and its PEM text).
  for (const std::string& secret : {public_key_.raw(), public_key_.ToPem()}) {
    const std::string input =
        absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"at+jwt","kid":")" +
                                               public_key_.Kid() + "\"}"),
                     ".", payload);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
    const std::string token = absl::StrCat(
        input, ".",
        absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), mac_len)));
    EXPECT_EQ(Verify(token).status().message(), "unsupported token algorithm");
  }
}

TEST_F(JwtTest, KeysMustMatch) {
  Ed25519PrivateKey other = *Ed25519PrivateKey::Generate();
  // Signed by another key: unknown kid.
  EXPECT_EQ(Verify(SignAccessToken(Claims(), other)).status().message(), "unknown signing key");
  // Signed by another key but claiming ours.
  const std::string input =
      absl::StrCat(absl::WebSafeBase64Escape(Header()), ".", absl::WebSafeBase64Escape(Payload()));
  EXPECT_EQ(Verify(absl::StrCat(input, ".", absl::WebSafeBase64Escape(other.Sign(input))))
                .status()
                .message(),
            "token signature invalid");
}

TEST_F(JwtTest, ClaimsAreChecked) {
  const int64_t iat = absl::ToUnixSeconds(now_);
  struct Case {
    std::string header, payload, reason;
  } cases[] = {
      {Header(), Payload("", 900), ""},
      {Header(),
       absl::StrCat(R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x","iat":)",
                    iat - 1000, ",\"exp\":", iat - 100, "}"),
       "token expired"},
      {Header(),
       absl::StrCat(R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x","iat":)",
                    iat - 900, ",\"exp\":", iat - 10, "}"),
       ""},  // expired 10 s ago: inside the 30 s skew
      {Header(), absl::StrReplaceAll(Payload(), {{"\"aud\":\"crm\"", "\"aud\":\"other\""}}),
       "token audience mismatch"},
      {Header(), absl::StrReplaceAll(Payload(), {{"\"aud\":\"crm\"", "\"aud\":[\"x\",\"crm\"]"}}),
       ""},
      {Header(), absl::StrReplaceAll(Payload(), {{"\"iss\":\"crm-auth\"", "\"iss\":\"evil\""}}),
       "token issuer mismatch"},
      {Header(), Payload("", 3600), "token lifetime too long"},
      {Header(), Payload(absl::StrCat(",\"nbf\":", iat + 3600)), "token not yet valid"},
      {Header(), absl::StrReplaceAll(Payload(), {{"\"sub\":\"42\"", "\"sub\":\"abc\""}}),
       "token subject malformed"},
      {Header(), absl::StrReplaceAll(Payload(), {{"\"sub\":\"42\"", "\"sub\":42"}}),
       "token subject malformed"},
      {Header(),
       absl::StrCat(R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x","iat":)",
                    iat, ",\"exp\":\"soon\"}"),
       "token times malformed"},
      {absl::StrReplaceAll(Header(), {{"at+jwt", "refresh+jwt"}}), Payload(),
       "not an access token"},
      {absl::StrCat(R"({"alg":"EdDSA","kid":")", public_key_.Kid(), "\"}"), Payload(),
       "not an access token"},
      {"[1,2,3]", Payload(), "token header malformed"},
      {Header(), "[]", "token claims malformed"},
  };
  for (const Case& c : cases) {
    auto result = Verify(Make(c.header, c.payload));
    if (c.reason.empty()) {
      EXPECT_TRUE(result.ok()) << c.payload << " " << result.status();
    } else {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << c.payload;
      EXPECT_EQ(result.status().message(), c.reason) << c.header << c.payload;
    }
  }
}

TEST_F(JwtTest, GarbageNeverCrashes) {
  for (const std::string& token :
       {std::string(""), std::string("a.b"), std::string("a.b.c.d"), std::string("!!!.???.***"),
        std::string("e30.e30.e30"), std::string("e30=.e30.e30"), std::string(20000, 'a'),
        absl::StrCat(absl::WebSafeBase64Escape("not json"), ".e30.")}) {
    EXPECT_EQ(Verify(token).status().code(), absl::StatusCode::kUnauthenticated) << token;
  }
  EXPECT_FALSE(PeekKid("garbage").ok());
}

TEST(Ed25519KeyTest, PemRoundTripAndKid) {
  Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  auto again = Ed25519PrivateKey::FromPem(key.ToPem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key().raw(), key.public_key().raw());
  EXPECT_EQ(key.public_key().Kid().size(), 16u);
  EXPECT_EQ(Ed25519PublicKey::FromRaw(key.public_key().raw())->Kid(), key.public_key().Kid());
  EXPECT_EQ(Ed25519PublicKey::FromPem(key.public_key().ToPem())->raw(), key.public_key().raw());
  EXPECT_TRUE(key.public_key().Verify("m", key.Sign("m")));
  EXPECT_FALSE(key.public_key().Verify("n", key.Sign("m")));
}

TEST(Ed25519KeyTest, RefusesOtherKeyTypes) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int)
  const std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  EXPECT_EQ(Ed25519PrivateKey::FromPem(pem).status().message(), "not an Ed25519 key");
  EXPECT_FALSE(Ed25519PrivateKey::FromPem("garbage").ok());
  EXPECT_FALSE(Ed25519PublicKey::FromRaw("short").ok());
}

}  // namespace
}  // namespace crm::auth
