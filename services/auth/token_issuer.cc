#include "services/auth/token_issuer.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/auth/jwt.h"
#include "common/files/read_file.h"
#include "common/log/log.h"

namespace crm::auth {
namespace {

// A failing generator is an error, never a predictable token.
absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    log::Error("the random number generator failed");
    return absl::InternalError("cannot issue a token now");
  }
  return bytes;
}

}  // namespace

TokenIssuer::TokenIssuer(std::vector<Ed25519PrivateKey> keys, TokenOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<TokenIssuer>> TokenIssuer::FromFiles(
    const std::vector<std::string>& paths, TokenOptions options) {
  std::vector<Ed25519PrivateKey> keys;
  for (const std::string& path : paths) {
    absl::StatusOr<std::string> pem = ReadFileToString(path);
    if (!pem.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("signing key: ", pem.status().message()));
    }
    absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(*pem);
    if (!key.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("signing key file ", path, ": ", key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  if (keys.empty()) {
    absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Generate();
    if (!key.ok()) {
      return key.status();
    }
    log::Warning("no --signing_key_files: using an ephemeral key; tokens die with this process");
    keys.push_back(*std::move(key));
  }
  return std::make_unique<TokenIssuer>(std::move(keys), std::move(options));
}

absl::StatusOr<AccessToken> TokenIssuer::IssueAccessToken(int64_t user_id, Role role,
                                                          std::string service) const {
  const absl::Time now = absl::Now();
  AccessClaims claims;
  claims.issuer = options_.issuer;
  claims.audience = options_.audience;
  claims.subject = user_id;
  claims.role = std::string(RoleName(role));
  // Whole seconds, as JWT NumericDates carry them.
  claims.issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  claims.expires_at = claims.issued_at + options_.access_ttl;
  absl::StatusOr<std::string> jti = RandomBytes(16);
  if (!jti.ok()) {
    return jti.status();
  }
  claims.jwt_id = absl::WebSafeBase64Escape(*jti);
  claims.service = std::move(service);
  return AccessToken{.token = SignAccessToken(claims, keys_.back()),
                     .expires_at = claims.expires_at};
}

absl::StatusOr<std::string> TokenIssuer::NewRefreshToken() {
  absl::StatusOr<std::string> bytes = RandomBytes(32);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return absl::WebSafeBase64Escape(*bytes);
}

std::string TokenIssuer::HashRefreshToken(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::vector<Ed25519PublicKey> TokenIssuer::PublicKeys() const {
  std::vector<Ed25519PublicKey> keys;
  for (const Ed25519PrivateKey& key : keys_) {
    keys.push_back(key.public_key());
  }
  return keys;
}

absl::StatusOr<std::string> NewUuid() {
  absl::StatusOr<std::string> random = RandomBytes(16);
  if (!random.ok()) {
    return random.status();
  }
  std::string& b = *random;
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  const std::string hex = absl::BytesToHexString(b);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

}  // namespace crm::auth
