#include "common/auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

std::string Decoded(absl::string_view segment) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(segment, &out));
  return out;
}

std::vector<std::string> Segments(absl::string_view token) { return absl::StrSplit(token, '.'); }

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : key_(*Ed25519PrivateKey::Generate()), public_key_(key_.public_key()) {}

  AccessClaims Claims() const {
    AccessClaims claims;
    claims.issuer = "crm-auth";
    claims.audience = "crm";
    claims.subject = 42;
    claims.role = "AGENT";
    claims.issued_at = now_;
    claims.expires_at = now_ + absl::Minutes(15);
    claims.jwt_id = "jti-1";
    return claims;
  }

  VerifyOptions Options() const {
    return VerifyOptions{.issuer = "crm-auth", .audience = "crm", .now = now_};
  }

  absl::StatusOr<AccessClaims> Verify(absl::string_view token) const {
    return Verify(token, Options());
  }

  absl::StatusOr<AccessClaims> Verify(absl::string_view token, const VerifyOptions& options) const {
    return VerifyAccessToken(
        token,
        [this](absl::string_view kid) -> const Ed25519PublicKey* {
          return kid == public_key_.Kid() ? &public_key_ : nullptr;
        },
        options);
  }

  // The reason a token is refused, "" if it is accepted. Also checks that
  // every refusal is UNAUTHENTICATED.
  std::string Refusal(absl::string_view token) const {
    absl::StatusOr<AccessClaims> claims = Verify(token);
    if (claims.ok()) {
      return "";
    }
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << claims.status();
    return std::string(claims.status().message());
  }

  // A token with exactly this header and payload JSON, validly signed by
  // `signer` (default: key_).
  std::string Make(absl::string_view header, absl::string_view payload,
                   const Ed25519PrivateKey* signer = nullptr) const {
    const std::string input = absl::StrCat(B64(header), ".", B64(payload));
    return absl::StrCat(input, ".", B64((signer == nullptr ? key_ : *signer).Sign(input)));
  }

  std::string Header(absl::string_view alg = "EdDSA", absl::string_view typ = "at+jwt") const {
    return absl::StrCat(R"({"alg":")", alg, R"(","typ":")", typ, R"(","kid":")", public_key_.Kid(),
                        "\"}");
  }

  // Valid claims, with `field` (e.g. R"("sub":"42")") replaced or, if
  // `replacement` is empty, removed.
  std::string Payload(absl::string_view field = "", absl::string_view replacement = "") const {
    std::string payload =
        absl::StrCat(R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x","iat":)",
                     Unix(now_), R"(,"exp":)", Unix(now_ + absl::Minutes(15)), "}");
    if (!field.empty()) {
      EXPECT_TRUE(absl::StrContains(payload, field)) << field;
      payload = absl::StrReplaceAll(payload, {{field, replacement}});
      // A removed field leaves ",," or "{," behind.
      payload = absl::StrReplaceAll(payload, {{",,", ","}, {"{,", "{"}, {",}", "}"}});
    }
    return payload;
  }

  // Valid claims with these iat/exp (and optional nbf).
  std::string Times(absl::Duration iat, absl::Duration exp, std::string extra = "") const {
    return absl::StrCat(
        R"({"iss":"crm-auth","aud":"crm","sub":"42","role":"AGENT","jti":"x","iat":)",
        Unix(now_ + iat), R"(,"exp":)", Unix(now_ + exp), extra, "}");
  }

  static int64_t Unix(absl::Time t) { return absl::ToUnixSeconds(t); }

  // Whole seconds, so boundary tests are exact.
  const absl::Time now_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  const Ed25519PrivateKey key_;
  const Ed25519PublicKey public_key_;
};

TEST_F(JwtTest, RoundTrip) {
  const std::string token = SignAccessToken(Claims(), key_);
  absl::StatusOr<AccessClaims> claims = Verify(token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->issuer, "crm-auth");
  EXPECT_EQ(claims->audience, "crm");
  EXPECT_EQ(claims->subject, 42);
  EXPECT_EQ(claims->role, "AGENT");
  EXPECT_EQ(claims->issued_at, now_);
  EXPECT_EQ(claims->expires_at, now_ + absl::Minutes(15));
  EXPECT_EQ(claims->jwt_id, "jti-1");

  const std::vector<std::string> segments = Segments(token);
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(Decoded(segments[0]),
            absl::StrCat(R"({"alg":"EdDSA","kid":")", public_key_.Kid(), R"(","typ":"at+jwt"})"));
  EXPECT_EQ(Decoded(segments[1]),
            absl::StrCat(R"({"aud":"crm","exp":)", Unix(now_) + 900, R"(,"iat":)", Unix(now_),
                         R"(,"iss":"crm-auth","jti":"jti-1","role":"AGENT","sub":"42"})"));
  EXPECT_EQ(Decoded(segments[2]).size(), 64u);
  EXPECT_FALSE(absl::StrContains(token, "="));
}

TEST_F(JwtTest, RoundTripEdgeValues) {
  AccessClaims claims = Claims();
  claims.subject = std::numeric_limits<int64_t>::max();
  claims.role = "ADMIN \"quoted\" \\ ünïcödé";
  claims.issued_at = now_ + absl::Milliseconds(999);  // truncated to whole seconds
  claims.expires_at = now_ + absl::Seconds(1);
  absl::StatusOr<AccessClaims> verified = Verify(SignAccessToken(claims, key_));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->subject, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(verified->role, claims.role);
  EXPECT_EQ(verified->issued_at, now_);

  // Invalid UTF-8 must not make signing throw.
  claims.role = "\xff\xfe";
  EXPECT_NO_THROW(SignAccessToken(claims, key_));
}

TEST_F(JwtTest, HandMadeTokenVerifies) {
  // Guards the test helpers: everything below differs from this in one way.
  EXPECT_EQ(Refusal(Make(Header(), Payload())), "");
  EXPECT_EQ(Refusal(Make(Header(), Times(absl::ZeroDuration(), absl::Minutes(15)))), "");
}

TEST_F(JwtTest, TamperingIsDetected) {
  const std::string token = SignAccessToken(Claims(), key_);
  const std::vector<std::string> segments = Segments(token);

  const std::string admin_payload = absl::StrReplaceAll(Decoded(segments[1]), {{"AGENT", "ADMIN"}});
  EXPECT_EQ(Refusal(absl::StrCat(segments[0], ".", B64(admin_payload), ".", segments[2])),
            "token signature invalid");

  const std::string other_header =
      absl::StrReplaceAll(Decoded(segments[0]), {{"\"typ\"", "\"x\":1,\"typ\""}});
  EXPECT_EQ(Refusal(absl::StrCat(B64(other_header), ".", segments[1], ".", segments[2])),
            "token signature invalid");

  std::string signature = Decoded(segments[2]);
  signature[0] ^= 0x01;
  EXPECT_EQ(Refusal(absl::StrCat(segments[0], ".", segments[1], ".", B64(signature))),
            "token signature invalid");
  EXPECT_EQ(Refusal(absl::StrCat(segments[0], ".", segments[1], ".", B64(signature.substr(1)))),
            "token signature invalid");
  EXPECT_EQ(Refusal(absl::StrCat(segments[0], ".", segments[1], ".")), "token signature invalid");
  // Another token's signature.
  AccessClaims other = Claims();
  other.jwt_id = "jti-2";
  EXPECT_EQ(Refusal(absl::StrCat(segments[0], ".", segments[1], ".",
                                 Segments(SignAccessToken(other, key_))[2])),
            "token signature invalid");
}

TEST_F(JwtTest, EverySingleCharacterChangeIsRefused) {
  const std::string token = SignAccessToken(Claims(), key_);
  for (size_t i = 0; i < token.size(); ++i) {
    for (char c : {'A', 'B', 'Q', 'g', '-', '_', '.', '='}) {
      if (token[i] == c) {
        continue;
      }
      std::string mutated = token;
      mutated[i] = c;
      EXPECT_NE(Refusal(mutated), "") << "position " << i << " -> " << c;
    }
  }
}

TEST_F(JwtTest, SignatureEncodingMustBeCanonical) {
  // 64 bytes take 86 base64url characters; the last one carries 4 unused bits.
  // A lenient decoder accepts other spellings of the same bytes: we do not.
  const std::string token = SignAccessToken(Claims(), key_);
  std::string respelled = token;
  char& last = respelled.back();
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) ^ 1];
  EXPECT_EQ(Refusal(respelled), "token malformed");
}

TEST_F(JwtTest, AlgorithmIsPinned) {
  // "none" with no signature.
  EXPECT_EQ(Refusal(absl::StrCat(B64(Header("none")), ".", B64(Payload()), ".")),
            "unsupported token algorithm");
  EXPECT_EQ(Refusal(absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(Payload()), ".")),
            "unsupported token algorithm");
  // Any alg but exactly "EdDSA" is refused even with a valid Ed25519 signature.
  for (absl::string_view alg : {"none", "None", "HS256", "RS256", "ES256", "PS256", "Ed25519",
                                "eddsa", "EDDSA", "EdDSA ", ""}) {
    EXPECT_EQ(Refusal(Make(Header(alg), Payload())), "unsupported token algorithm") << alg;
  }
  const std::string kid = public_key_.Kid();
  for (const std::string& header :
       {absl::StrCat(R"({"typ":"at+jwt","kid":")", kid, "\"}"),
        absl::StrCat(R"({"alg":["EdDSA"],"typ":"at+jwt","kid":")", kid, "\"}"),
        absl::StrCat(R"({"alg":null,"typ":"at+jwt","kid":")", kid, "\"}")}) {
    EXPECT_EQ(Refusal(Make(header, Payload())), "unsupported token algorithm") << header;
  }
}

TEST_F(JwtTest, HmacKeyedWithThePublicKeyIsRefused) {
  // The classic algorithm-confusion forgery: HS256 keyed with what the
  // verifier holds as a public key, hoping it feeds that to HMAC.
  for (const std::string& secret : {public_key_.raw(), public_key_.ToPem()}) {
    const std::string input = absl::StrCat(B64(Header("HS256")), ".", B64(Payload()));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    ASSERT_NE(
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length),
        nullptr);
    const std::string token = absl::StrCat(
        input, ".", B64(absl::string_view(reinterpret_cast<const char*>(mac), mac_length)));
    EXPECT_EQ(Refusal(token), "unsupported token algorithm");
  }
}

TEST_F(JwtTest, KeysMustMatch) {
  const Ed25519PrivateKey other = *Ed25519PrivateKey::Generate();
  // Signed by another key, naming it: unknown kid.
  EXPECT_EQ(Refusal(SignAccessToken(Claims(), other)), "unknown signing key");
  // Signed by another key but claiming ours.
  EXPECT_EQ(Refusal(Make(Header(), Payload(), &other)), "token signature invalid");

  const std::string no_kid = R"({"alg":"EdDSA","typ":"at+jwt"})";
  EXPECT_EQ(Refusal(Make(no_kid, Payload())), "token has no key id");
  EXPECT_EQ(Refusal(Make(R"({"alg":"EdDSA","typ":"at+jwt","kid":""})", Payload())),
            "token has no key id");
  EXPECT_EQ(Refusal(Make(R"({"alg":"EdDSA","typ":"at+jwt","kid":7})", Payload())),
            "token has no key id");

  // The lookup is asked for exactly the header's kid.
  std::vector<std::string> asked;
  const auto lookup = [&](absl::string_view kid) -> const Ed25519PublicKey* {
    asked.emplace_back(kid);
    return nullptr;
  };
  EXPECT_FALSE(VerifyAccessToken(SignAccessToken(Claims(), other), lookup, Options()).ok());
  EXPECT_EQ(asked, std::vector<std::string>{other.public_key().Kid()});
}

TEST_F(JwtTest, OnlyAccessTokensAreAccepted) {
  for (absl::string_view typ : {"refresh+jwt", "JWT", "jwt", "application/at+jwt", "AT+JWT", ""}) {
    EXPECT_EQ(Refusal(Make(Header("EdDSA", typ), Payload())), "not an access token") << typ;
  }
  EXPECT_EQ(
      Refusal(Make(absl::StrCat(R"({"alg":"EdDSA","kid":")", public_key_.Kid(), "\"}"), Payload())),
      "not an access token");
  // An extension we would have to understand.
  EXPECT_EQ(Refusal(Make(absl::StrCat(R"({"alg":"EdDSA","typ":"at+jwt","crit":["exp"],"kid":")",
                                      public_key_.Kid(), "\"}"),
                         Payload())),
            "unsupported token header");
}

TEST_F(JwtTest, ExpiryAndClockSkew) {
  const absl::Duration m = absl::Minutes(1);
  const absl::Duration s = absl::Seconds(1);
  EXPECT_EQ(Refusal(Make(Header(), Times(-20 * m, -10 * m))), "token expired");
  // Expired 10 s ago: inside the 30 s skew.
  EXPECT_EQ(Refusal(Make(Header(), Times(-10 * m, -10 * s))), "");
  EXPECT_EQ(Refusal(Make(Header(), Times(-10 * m, -29 * s))), "");
  EXPECT_EQ(Refusal(Make(Header(), Times(-10 * m, -30 * s))), "token expired");
  // Issued in the future: tolerated within the skew.
  EXPECT_EQ(Refusal(Make(Header(), Times(30 * s, 10 * m))), "");
  EXPECT_EQ(Refusal(Make(Header(), Times(31 * s, 10 * m))), "token issued in the future");
  // nbf.
  EXPECT_EQ(Refusal(Make(Header(), Times(-m, 10 * m, absl::StrCat(",\"nbf\":", Unix(now_ - m))))),
            "");
  EXPECT_EQ(Refusal(Make(Header(), Times(-m, 10 * m, absl::StrCat(",\"nbf\":", Unix(now_ + m))))),
            "token not yet valid");
  EXPECT_EQ(Refusal(Make(Header(), Times(-m, 10 * m, ",\"nbf\":\"later\""))),
            "token times malformed");
  // Zero skew.
  VerifyOptions strict = Options();
  strict.clock_skew = absl::ZeroDuration();
  EXPECT_FALSE(Verify(Make(Header(), Times(-10 * m, -s)), strict).ok());
  // Options without `now` (the epoch) refuse everything.
  VerifyOptions no_now = Options();
  no_now.now = absl::Time();
  EXPECT_FALSE(Verify(SignAccessToken(Claims(), key_), no_now).ok());
}

TEST_F(JwtTest, LifetimeIsCapped) {
  const absl::Duration m = absl::Minutes(1);
  EXPECT_EQ(Refusal(Make(Header(), Times(absl::ZeroDuration(), 15 * m))), "");
  EXPECT_EQ(Refusal(Make(Header(), Times(absl::ZeroDuration(), 15 * m + absl::Seconds(1)))),
            "token lifetime too long");
  EXPECT_EQ(Refusal(Make(Header(), Times(-10 * m, 24 * 60 * m))), "token lifetime too long");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("iat":)", R"("iat":-9223372036854775807,"x":)"))),
            "token lifetime too long");
  VerifyOptions short_lived = Options();
  short_lived.max_lifetime = 5 * m;
  EXPECT_FALSE(Verify(Make(Header(), Times(absl::ZeroDuration(), 6 * m)), short_lived).ok());
  // exp must come after iat.
  EXPECT_EQ(Refusal(Make(Header(), Times(absl::ZeroDuration(), absl::ZeroDuration()))),
            "token times malformed");
  EXPECT_EQ(Refusal(Make(Header(), Times(m, absl::Seconds(45)))), "token times malformed");
}

TEST_F(JwtTest, IssuerAndAudience) {
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("iss":"crm-auth")", R"("iss":"evil")"))),
            "token issuer mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("iss":"crm-auth")", ""))), "token issuer mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("iss":"crm-auth")", R"("iss":["crm-auth"])"))),
            "token issuer mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":"other")"))),
            "token audience mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", ""))), "token audience mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":["x","crm"])"))), "");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":["x","y"])"))),
            "token audience mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":[])"))),
            "token audience mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":[["crm"]])"))),
            "token audience mismatch");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("aud":"crm")", R"("aud":{"crm":1})"))),
            "token audience mismatch");
  // An unconfigured verifier accepts nobody, even a token with empty claims.
  VerifyOptions empty = Options();
  empty.issuer = "";
  empty.audience = "";
  EXPECT_FALSE(
      Verify(Make(Header(), Payload(R"("iss":"crm-auth","aud":"crm")", R"("iss":"","aud":"")")),
             empty)
          .ok());
}

TEST_F(JwtTest, ClaimTypesAreChecked) {
  struct Case {
    std::string field, replacement, reason;
  };
  const std::vector<Case> cases = {
      {R"("sub":"42")", R"("sub":"9223372036854775807")", ""},
      {R"("sub":"42")", R"("sub":"abc")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":42)", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"0")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"-5")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"+5")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":" 5")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"5 ")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"042")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"4.2")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"9223372036854775808")", "token subject malformed"},
      {R"("sub":"42")", R"("sub":"")", "token subject malformed"},
      {R"("sub":"42")", "", "token subject malformed"},
      {R"("role":"AGENT")", R"("role":"")", "token role missing"},
      {R"("role":"AGENT")", R"("role":1)", "token role missing"},
      {R"("role":"AGENT")", "", "token role missing"},
      {R"("jti":"x")", R"("jti":"")", "token id missing"},
      {R"("jti":"x")", R"("jti":null)", "token id missing"},
      {R"("jti":"x")", "", "token id missing"},
      {R"("exp":)", R"("exp":"soon","x":)", "token times malformed"},
      {R"("exp":)", R"("exp":1e300,"x":)", "token times malformed"},
      {R"("exp":)", R"("exp":18446744073709551615,"x":)", "token times malformed"},
      {R"("exp":)", R"("exp":99999999999999999999999,"x":)", "token times malformed"},
      {R"("exp":)", R"("exp":true,"x":)", "token times malformed"},
      {R"("iat":)", R"("iat":null,"x":)", "token times malformed"},
      {R"("iat":)", R"("iat":1.5,"x":)", "token times malformed"},
      {R"("iat":)", R"("x":)", "token times malformed"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Refusal(Make(Header(), Payload(c.field, c.replacement))), c.reason)
        << c.field << " -> " << c.replacement;
  }
  for (absl::string_view payload : {"[]", "\"claims\"", "null", "42", "{", "not json", " "}) {
    EXPECT_EQ(Refusal(Make(Header(), payload)), "token claims malformed") << payload;
  }
}

TEST_F(JwtTest, GarbageIsRefusedWithoutCrashing) {
  const std::string good = SignAccessToken(Claims(), key_);
  const std::vector<std::string> segments = Segments(good);
  const std::string payload = segments[1];
  const std::string signature = segments[2];
  const std::vector<std::string> tokens = {
      "",
      ".",
      "..",
      "...",
      "a",
      "a.b",
      "a.b.c.d",
      absl::StrCat(good, ".", signature),
      absl::StrCat(".", payload, ".", signature),
      absl::StrCat(segments[0], "..", signature),
      "!!!.???.***",
      "e30=.e30.e30",
      absl::StrCat(segments[0], "=.", payload, ".", signature),
      absl::StrCat(segments[0], ".", payload, ".", signature, "=="),
      absl::StrCat(absl::StrReplaceAll(segments[0], {{"-", "+"}, {"_", "/"}}), "+/.", payload, ".",
                   signature),
      absl::StrCat(" ", good),
      absl::StrCat(good, "\n"),
      absl::StrCat(segments[0], ".", payload, ". ", signature),
      std::string("e30\0.e30.e30", 12),
      std::string(20000, 'a'),
      absl::StrCat(good, std::string(9000, 'A')),
      absl::StrCat(B64("not json"), ".", payload, ".", signature),
      absl::StrCat(B64("[1,2,3]"), ".", payload, ".", signature),
      absl::StrCat(B64("\"EdDSA\""), ".", payload, ".", signature),
      absl::StrCat(B64("null"), ".", payload, ".", signature),
      absl::StrCat(B64(""), ".", payload, ".", signature),
      absl::StrCat(B64("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"\xff\xfe\"}"), ".", payload,
                   ".", signature),
      absl::StrCat(B64(std::string(2000, '[') + std::string(2000, ']')), ".", payload, ".",
                   signature),
      absl::StrCat(B64(std::string(3000, '[')), ".", payload, ".", signature),
  };
  for (const std::string& token : tokens) {
    absl::StatusOr<AccessClaims> claims;
    ASSERT_NO_THROW(claims = Verify(token)) << token.substr(0, 80);
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << token.substr(0, 80);
    absl::StatusOr<UnverifiedAccessToken> parsed;
    ASSERT_NO_THROW(parsed = UnverifiedAccessToken::Parse(token));
    if (parsed.ok()) {
      // Only tokens whose header is fine may yield a kid.
      EXPECT_EQ(parsed->kid(), public_key_.Kid()) << token.substr(0, 80);
    }
  }
  EXPECT_EQ(Refusal("a.b"), "token malformed");
  EXPECT_EQ(Refusal(std::string(20000, 'a')), "token too large");
  EXPECT_EQ(Refusal(absl::StrCat(B64("[1,2,3]"), ".", payload, ".", signature)),
            "token header malformed");
}

TEST_F(JwtTest, OversizedTokenIsRefusedEvenIfSigned) {
  AccessClaims claims = Claims();
  claims.role = std::string(7000, 'R');  // ~9.4 KiB once base64url-encoded
  EXPECT_EQ(Refusal(SignAccessToken(claims, key_)), "token too large");
}

TEST_F(JwtTest, RefusalsNeverEchoTheToken) {
  const std::string token = Make(Header(), Payload(R"("aud":"crm")", R"("aud":"SECRET-MARKER")"));
  absl::StatusOr<AccessClaims> claims = Verify(token);
  ASSERT_FALSE(claims.ok());
  EXPECT_FALSE(absl::StrContains(claims.status().message(), "SECRET-MARKER"));
  EXPECT_FALSE(absl::StrContains(claims.status().message(), public_key_.Kid()));
}

TEST_F(JwtTest, ParseReadsTheKidBeforeVerification) {
  const auto kid = [](const std::string& token) {
    return UnverifiedAccessToken::Parse(token)->kid();
  };
  EXPECT_EQ(kid(SignAccessToken(Claims(), key_)), public_key_.Kid());
  // Unverified: a key we do not know and a broken signature still parse.
  const Ed25519PrivateKey other = *Ed25519PrivateKey::Generate();
  EXPECT_EQ(kid(SignAccessToken(Claims(), other)), other.public_key().Kid());
  EXPECT_EQ(kid(absl::StrCat(B64(Header()), ".", B64(Payload()), ".")), public_key_.Kid());
  // The header is checked at parse time, so a token no key could verify never
  // triggers a key fetch.
  EXPECT_FALSE(UnverifiedAccessToken::Parse(
                   absl::StrCat(B64(R"({"alg":"none","typ":"at+jwt","kid":"k"})"), ".e30.AA"))
                   .ok());

  for (const std::string& token :
       {std::string(), std::string("garbage"), std::string("a.b.c.d"), std::string(20000, 'a'),
        absl::StrCat(B64("[]"), ".e30.AA"), absl::StrCat(B64(R"({"alg":"EdDSA"})"), ".e30.AA"),
        absl::StrCat(B64(R"({"kid":""})"), ".e30.AA"),
        absl::StrCat(B64(R"({"kid":["a"]})"), ".e30.AA")}) {
    EXPECT_EQ(UnverifiedAccessToken::Parse(token).status().code(),
              absl::StatusCode::kUnauthenticated)
        << token.substr(0, 80);
  }
}

TEST_F(JwtTest, ServiceClaimRoundTripsAndIsOptional) {
  AccessClaims claims = Claims();
  EXPECT_EQ(Verify(SignAccessToken(claims, key_))->service, "");
  claims.role = "SERVICE";
  claims.service = "leads";
  const std::string token = SignAccessToken(claims, key_);
  EXPECT_THAT(Decoded(Segments(token)[1]), ::testing::HasSubstr(R"("svc":"leads")"));
  EXPECT_EQ(Verify(token)->service, "leads");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("role":"AGENT")", R"("role":"SERVICE","svc":7)"))),
            "token service malformed");
  EXPECT_EQ(Refusal(Make(Header(), Payload(R"("role":"AGENT")", R"("role":"SERVICE","svc":"")"))),
            "token service malformed");
}

}  // namespace
}  // namespace crm::auth
