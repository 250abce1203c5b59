#include "common/auth/jwt.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace crm::auth {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenBytes = 8192;

absl::Status Refused(absl::string_view reason) { return absl::UnauthenticatedError(reason); }

bool IsBase64Url(absl::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

struct Parts {
  absl::string_view header_b64;
  absl::string_view payload_b64;
  json header;
  std::string payload;
  std::string signature;
};

absl::StatusOr<Parts> Split(absl::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Refused("token malformed");
  }
  std::vector<absl::string_view> pieces = absl::StrSplit(token, '.');
  if (pieces.size() != 3 || pieces[0].empty() || pieces[1].empty()) {
    return Refused("token malformed");
  }
  Parts parts;
  parts.header_b64 = pieces[0];
  parts.payload_b64 = pieces[1];
  std::string header;
  for (absl::string_view piece : pieces) {
    if (!IsBase64Url(piece)) {
      return Refused("token malformed");
    }
  }
  if (!absl::WebSafeBase64Unescape(pieces[0], &header) ||
      !absl::WebSafeBase64Unescape(pieces[1], &parts.payload) ||
      !absl::WebSafeBase64Unescape(pieces[2], &parts.signature)) {
    return Refused("token malformed");
  }
  parts.header = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (parts.header.is_discarded() || !parts.header.is_object()) {
    return Refused("token header malformed");
  }
  return parts;
}

bool StringField(const json& object, const char* name, std::string* out) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool IntField(const json& object, const char* name, int64_t* out) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_number_integer()) {
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

std::string SignAccessToken(const AccessClaims& claims, const Ed25519PrivateKey& key) {
  const json header = {{"alg", "EdDSA"}, {"typ", "at+jwt"}, {"kid", key.public_key().Kid()}};
  const json payload = {{"iss", claims.issuer},
                        {"aud", claims.audience},
                        {"sub", absl::StrCat(claims.subject)},
                        {"role", claims.role},
                        {"iat", absl::ToUnixSeconds(claims.issued_at)},
                        {"exp", absl::ToUnixSeconds(claims.expires_at)},
                        {"jti", claims.jwt_id}};
  const std::string signing_input = absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                                                 absl::WebSafeBase64Escape(payload.dump()));
  return absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(key.Sign(signing_input)));
}

absl::StatusOr<std::string> PeekKid(absl::string_view token) {
  absl::StatusOr<Parts> parts = Split(token);
  if (!parts.ok()) {
    return parts.status();
  }
  std::string kid;
  if (!StringField(parts->header, "kid", &kid) || kid.empty()) {
    return Refused("token has no key id");
  }
  return kid;
}

absl::StatusOr<AccessClaims> VerifyAccessToken(
    absl::string_view token,
    absl::FunctionRef<const Ed25519PublicKey*(absl::string_view kid)> key_for_kid,
    const VerifyOptions& options) {
  absl::StatusOr<Parts> parts = Split(token);
  if (!parts.ok()) {
    return parts.status();
  }
  std::string alg, typ, kid;
  if (!StringField(parts->header, "alg", &alg) || alg != "EdDSA") {
    return Refused("unsupported token algorithm");
  }
  if (!StringField(parts->header, "typ", &typ) || typ != "at+jwt") {
    return Refused("not an access token");
  }
  if (!StringField(parts->header, "kid", &kid) || kid.empty()) {
    return Refused("token has no key id");
  }
  const Ed25519PublicKey* key = key_for_kid(kid);
  if (key == nullptr) {
    return Refused("unknown signing key");
  }
  const std::string signing_input = absl::StrCat(parts->header_b64, ".", parts->payload_b64);
  if (!key->Verify(signing_input, parts->signature)) {
    return Refused("token signature invalid");
  }
  // Only now is the payload trusted enough to read.
  const json payload = json::parse(parts->payload, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Refused("token claims malformed");
  }
  AccessClaims claims;
  if (!StringField(payload, "iss", &claims.issuer) || claims.issuer != options.issuer) {
    return Refused("token issuer mismatch");
  }
  bool audience_ok = false;
  if (auto aud = payload.find("aud"); aud != payload.end()) {
    if (aud->is_string()) {
      audience_ok = aud->get<std::string>() == options.audience;
    } else if (aud->is_array()) {
      for (const json& entry : *aud) {
        audience_ok =
            audience_ok || (entry.is_string() && entry.get<std::string>() == options.audience);
      }
    }
  }
  if (!audience_ok) {
    return Refused("token audience mismatch");
  }
  claims.audience = options.audience;
  std::string subject;
  if (!StringField(payload, "sub", &subject) || !absl::SimpleAtoi(subject, &claims.subject) ||
      claims.subject <= 0) {
    return Refused("token subject malformed");
  }
  if (!StringField(payload, "role", &claims.role) || claims.role.empty()) {
    return Refused("token role missing");
  }
  if (!StringField(payload, "jti", &claims.jwt_id) || claims.jwt_id.empty()) {
    return Refused("token id missing");
  }
  int64_t iat = 0, exp = 0, nbf = 0;
  if (!IntField(payload, "iat", &iat) || !IntField(payload, "exp", &exp)) {
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
    if (!IntField(payload, "nbf", &nbf) ||
        absl::FromUnixSeconds(nbf) > options.now + options.clock_skew) {
      return Refused("token not yet valid");
    }
  }
  if (claims.expires_at - claims.issued_at > options.max_lifetime) {
    return Refused("token lifetime too long");
  }
  return claims;
}

}  // namespace crm::auth
