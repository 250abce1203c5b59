#pragma once

// Access tokens: compact JWTs signed with Ed25519 (RFC 8037 "EdDSA"), typed
// "at+jwt" (RFC 9068) so no other kind of token is accepted in their place.
// The algorithm is pinned: the header's `alg` must be EdDSA, never chosen by
// the token, so `none` and HMAC-with-the-public-key forgeries fail.
//
//   std::string token = SignAccessToken(claims, key);
//   absl::StatusOr<AccessClaims> verified = VerifyAccessToken(token, lookup, options);

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/ed25519_key.h"

namespace crm::auth {

struct AccessClaims {
  std::string issuer;
  std::string audience;
  int64_t subject = 0;  // the user id ("sub", a decimal string)
  std::string role;
  absl::Time issued_at;
  absl::Time expires_at;
  std::string jwt_id;
};

// Header {"alg":"EdDSA","typ":"at+jwt","kid":<key id>}.
std::string SignAccessToken(const AccessClaims& claims, const Ed25519PrivateKey& key);

struct VerifyOptions {
  std::string issuer;
  std::string audience;
  absl::Time now;
  absl::Duration clock_skew = absl::Seconds(30);
  absl::Duration max_lifetime = absl::Minutes(15);
};

// UNAUTHENTICATED with a short reason (for the server log) on any failure.
// `key_for_kid` returns nullptr for an unknown key id.
absl::StatusOr<AccessClaims> VerifyAccessToken(
    absl::string_view token,
    absl::FunctionRef<const Ed25519PublicKey*(absl::string_view kid)> key_for_kid,
    const VerifyOptions& options);

// The `kid` of a token's header, unverified (to refresh keys on an unknown one).
absl::StatusOr<std::string> PeekKid(absl::string_view token);

}  // namespace crm::auth
