#include "common/auth/jwt.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace crm::auth {
namespace {

using json = nlohmann::json;

constexpr char kAlgorithm[] = "EdDSA";
constexpr char kAccessTokenType[] = "at+jwt";
// Our tokens are ~400 bytes; the cap bounds the work an attacker can cause
// (decoding, JSON parsing) before the signature is checked.
constexpr size_t kMaxTokenBytes = 8 * 1024;

absl::Status Refused(absl::string_view reason) { return absl::UnauthenticatedError(reason); }

bool IsBase64UrlAlphabet(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

// Strict base64url: the URL alphabet only, no padding, and the one canonical
// encoding of the bytes, so a token cannot be re-spelled (e.g. through unused
// trailing bits of the signature) and still verify.
bool DecodeSegment(absl::string_view segment, std::string* out) {
  return IsBase64UrlAlphabet(segment) && absl::WebSafeBase64Unescape(segment, out) &&
         absl::WebSafeBase64Escape(*out) == segment;
}

// Types are checked before every get<>, which would throw on a mismatch.
bool StringField(const json& object, const char* name, std::string* out) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

// An integer that fits int64 (a huge unsigned value would wrap in get<>).
bool IntField(const json& object, const char* name, int64_t* out) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_number_integer()) {
    return false;
  }
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

// A positive int64 in plain decimal: no sign, spaces or leading zeros, so one
// user id has exactly one spelling.
bool ParseSubject(absl::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 19 || text[0] == '0') {
    return false;
  }
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return absl::SimpleAtoi(text, out) && *out > 0;
}

bool AudienceMatches(const json& payload, const std::string& audience) {
  if (audience.empty()) {
    return false;
  }
  const auto aud = payload.find("aud");
  if (aud == payload.end()) {
    return false;
  }
  if (aud->is_string()) {
    return aud->get<std::string>() == audience;
  }
  if (aud->is_array()) {
    for (const json& entry : *aud) {
      if (entry.is_string() && entry.get<std::string>() == audience) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string SignAccessToken(const AccessClaims& claims, const Ed25519PrivateKey& key) {
  const json header = {
      {"alg", kAlgorithm}, {"typ", kAccessTokenType}, {"kid", key.public_key().Kid()}};
  json payload = {{"iss", claims.issuer},
                  {"aud", claims.audience},
                  {"sub", absl::StrCat(claims.subject)},
                  {"role", claims.role},
                  {"iat", absl::ToUnixSeconds(claims.issued_at)},
                  {"exp", absl::ToUnixSeconds(claims.expires_at)},
                  {"jti", claims.jwt_id}};
  if (!claims.service.empty()) {
    payload["svc"] = claims.service;
  }
  // dump() throws on invalid UTF-8 unless told to replace it.
  const auto text = [](const json& value) {
    return value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                      json::error_handler_t::replace);
  };
  const std::string signing_input = absl::StrCat(absl::WebSafeBase64Escape(text(header)), ".",
                                                 absl::WebSafeBase64Escape(text(payload)));
  return absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(key.Sign(signing_input)));
}

absl::StatusOr<UnverifiedAccessToken> UnverifiedAccessToken::Parse(absl::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return Refused("token too large");
  }
  const std::vector<absl::string_view> segments = absl::StrSplit(token, '.');
  if (segments.size() != 3 || segments[0].empty() || segments[1].empty()) {
    return Refused("token malformed");
  }
  UnverifiedAccessToken parsed;
  std::string header_text;
  if (!DecodeSegment(segments[0], &header_text) || !DecodeSegment(segments[1], &parsed.payload_) ||
      !DecodeSegment(segments[2], &parsed.signature_)) {
    return Refused("token malformed");
  }
  // Every get<> is type-checked first; the catch is a backstop, not the plan.
  try {
    const json header = json::parse(header_text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded() || !header.is_object()) {
      return Refused("token header malformed");
    }
    // The header only selects the key; the algorithm is ours, not the token's.
    std::string alg, typ;
    if (!StringField(header, "alg", &alg) || alg != kAlgorithm) {
      return Refused("unsupported token algorithm");
    }
    if (!StringField(header, "typ", &typ) || typ != kAccessTokenType) {
      return Refused("not an access token");
    }
    // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
    if (header.contains("crit")) {
      return Refused("unsupported token header");
    }
    if (!StringField(header, "kid", &parsed.kid_) || parsed.kid_.empty()) {
      return Refused("token has no key id");
    }
  } catch (const json::exception&) {
    return Refused("token malformed");
  }
  parsed.signing_input_ = std::string(token.substr(0, segments[0].size() + 1 + segments[1].size()));
  return parsed;
}

absl::StatusOr<AccessClaims> VerifyAccessToken(const UnverifiedAccessToken& token,
                                               const Ed25519PublicKey& key,
                                               const VerifyOptions& options) {
  if (!key.Verify(token.signing_input_, token.signature_)) {
    return Refused("token signature invalid");
  }
  try {
    // Only now is the payload trusted enough to read.
    const json payload = json::parse(token.payload_, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (payload.is_discarded() || !payload.is_object()) {
      return Refused("token claims malformed");
    }
    AccessClaims claims;
    // An empty configured issuer or audience matches nothing (fails closed).
    if (!StringField(payload, "iss", &claims.issuer) || claims.issuer.empty() ||
        claims.issuer != options.issuer) {
      return Refused("token issuer mismatch");
    }
    if (!AudienceMatches(payload, options.audience)) {
      return Refused("token audience mismatch");
    }
    claims.audience = options.audience;
    std::string subject;
    if (!StringField(payload, "sub", &subject) || !ParseSubject(subject, &claims.subject)) {
      return Refused("token subject malformed");
    }
    if (!StringField(payload, "role", &claims.role) || claims.role.empty()) {
      return Refused("token role missing");
    }
    if (!StringField(payload, "jti", &claims.jwt_id) || claims.jwt_id.empty()) {
      return Refused("token id missing");
    }
    if (payload.contains("svc") &&
        (!StringField(payload, "svc", &claims.service) || claims.service.empty())) {
      return Refused("token service malformed");
    }

    int64_t iat = 0;
    int64_t exp = 0;
    if (!IntField(payload, "iat", &iat) || !IntField(payload, "exp", &exp) || exp <= iat) {
      return Refused("token times malformed");
    }
    claims.issued_at = absl::FromUnixSeconds(iat);
    claims.expires_at = absl::FromUnixSeconds(exp);
    if (claims.expires_at <= options.now - options.clock_skew) {
      return Refused("token expired");
    }
    if (claims.issued_at > options.now + options.clock_skew) {
      return Refused("token issued in the future");
    }
    if (payload.contains("nbf")) {
      int64_t nbf = 0;
      if (!IntField(payload, "nbf", &nbf)) {
        return Refused("token times malformed");
      }
      if (absl::FromUnixSeconds(nbf) > options.now + options.clock_skew) {
        return Refused("token not yet valid");
      }
    }
    // Bounds the damage of a leaked signing key or a buggy issuer: no token
    // outlives max_lifetime, whatever it claims.
    if (claims.expires_at - claims.issued_at > options.max_lifetime) {
      return Refused("token lifetime too long");
    }
    return claims;
  } catch (const json::exception&) {
    return Refused("token malformed");
  }
}

absl::StatusOr<AccessClaims> VerifyAccessToken(
    absl::string_view token,
    absl::FunctionRef<const Ed25519PublicKey*(absl::string_view kid)> key_for_kid,
    const VerifyOptions& options) {
  absl::StatusOr<UnverifiedAccessToken> parsed = UnverifiedAccessToken::Parse(token);
  if (!parsed.ok()) {
    return parsed.status();
  }
  const Ed25519PublicKey* key = key_for_kid(parsed->kid());
  if (key == nullptr) {
    return Refused("unknown signing key");
  }
  return VerifyAccessToken(*parsed, *key, options);
}

}  // namespace crm::auth
