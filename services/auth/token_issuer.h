#pragma once

// Issues access tokens (Ed25519 JWTs, ≤ 15 minutes) and refresh tokens
// (256 random bits, given to the client once and stored only as SHA-256).
//
// Signing keys are PEM files; several may be loaded so a rotation can publish
// a new key while tokens signed with the old one are still valid. The last
// file listed is the newest and signs; all are published by ListPublicKeys.
// Rotation: append the new key, restart; drop the old one after the access
// token lifetime has passed.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/auth/caller.h"
#include "common/auth/ed25519_key.h"

namespace crm::auth {

struct TokenOptions {
  std::string issuer = "crm-auth";
  std::string audience = "crm";
  absl::Duration access_ttl = absl::Minutes(15);
  absl::Duration refresh_ttl = absl::Hours(24 * 30);
};

struct AccessToken {
  std::string token;
  absl::Time expires_at;
};

class TokenIssuer {
 public:
  // `keys` must not be empty; the last one signs.
  TokenIssuer(std::vector<Ed25519PrivateKey> keys, TokenOptions options);

  // Loads PEM files (see above). An empty list generates one ephemeral key:
  // fine for tests, but tokens then die with the process.
  static absl::StatusOr<std::unique_ptr<TokenIssuer>> FromFiles(
      const std::vector<std::string>& paths, TokenOptions options);

  // `service`: for a SERVICE account, its service's name (the "svc" claim).
  // INTERNAL if the random number generator fails (no predictable jti).
  absl::StatusOr<AccessToken> IssueAccessToken(int64_t user_id, Role role,
                                               std::string service = "") const;

  // A fresh refresh token (256 random bits), or INTERNAL if the random
  // number generator fails; and the hash to store for it.
  static absl::StatusOr<std::string> NewRefreshToken();
  static std::string HashRefreshToken(absl::string_view token);

  std::vector<Ed25519PublicKey> PublicKeys() const;
  std::string active_kid() const { return keys_.back().public_key().Kid(); }
  const TokenOptions& options() const { return options_; }

 private:
  const std::vector<Ed25519PrivateKey> keys_;
  const TokenOptions options_;
};

// The auth service verifies tokens with its own keys, without a network call.
class LocalKeySource final : public KeySource {
 public:
  explicit LocalKeySource(const TokenIssuer* issuer) : issuer_(issuer) {}
  absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() override {
    return issuer_->PublicKeys();
  }

 private:
  const TokenIssuer* const issuer_;
};

// A random RFC 4122 version 4 UUID, for refresh token families.
absl::StatusOr<std::string> NewUuid();

}  // namespace crm::auth
