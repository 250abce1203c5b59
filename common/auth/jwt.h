#pragma once

// Access tokens: compact JWTs (RFC 7519) signed with Ed25519 ("EdDSA", RFC
// 8037) and typed "at+jwt" (RFC 9068), so a refresh token or any other JWT
// kind is never accepted in their place. The auth service signs them; every
// service verifies them locally against auth's published public keys.
//
// The algorithm is pinned: the header's `alg` must be "EdDSA" and is never
// used to choose how to verify, so "none" and HMAC-keyed-with-the-public-key
// forgeries fail. The signature is checked before any claim is read.
//
//   std::string token = SignAccessToken(claims, private_key);
//   absl::StatusOr<AccessClaims> verified = VerifyAccessToken(
//       token,
//       [&](absl::string_view kid) -> const Ed25519PublicKey* {
//         return kid == public_key.Kid() ? &public_key : nullptr;
//       },
//       VerifyOptions{.issuer = "crm-auth", .audience = "crm", .now = absl::Now()});

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/ed25519_key.h"

namespace crm::auth {

struct AccessClaims {
  std::string issuer;     // "iss"
  std::string audience;   // "aud"
  int64_t subject = 0;    // "sub": the user id, sent as a decimal string
  std::string role;       // "role"
  absl::Time issued_at;   // "iat", whole seconds
  absl::Time expires_at;  // "exp", whole seconds
  std::string jwt_id;     // "jti"
  // "svc": a SERVICE account's service name ("leads"), so a callee knows
  // which service is calling, not only that one is; absent for people.
  std::string service;
};

// Header {"alg":"EdDSA","typ":"at+jwt","kid":key.public_key().Kid()}; claims
// iss, aud, sub, role, iat, exp (NumericDate seconds, truncated) and jti.
std::string SignAccessToken(const AccessClaims& claims, const Ed25519PrivateKey& key);

struct VerifyOptions {
  std::string issuer;    // `iss` must equal it
  std::string audience;  // `aud` must equal it, or be an array holding it
  absl::Time now;        // left unset (the epoch), every token is refused
  absl::Duration clock_skew = absl::Seconds(30);
  // A token whose exp - iat is longer is refused, whoever signed it.
  absl::Duration max_lifetime = absl::Minutes(15);
};

// An access token split, decoded and its header checked (alg EdDSA, typ
// at+jwt, a kid, no crit), but its signature NOT verified yet: parsed once
// per call, so the key can be chosen (and fetched) by its kid and the token
// verified without decoding it again. Refusals are UNAUTHENTICATED with a
// short reason for the server log. Never throws.
class UnverifiedAccessToken {
 public:
  static absl::StatusOr<UnverifiedAccessToken> Parse(absl::string_view token);

  // The signing key's id, as the (unverified) header names it.
  const std::string& kid() const { return kid_; }

 private:
  friend absl::StatusOr<AccessClaims> VerifyAccessToken(const UnverifiedAccessToken& token,
                                                        const Ed25519PublicKey& key,
                                                        const VerifyOptions& options);
  UnverifiedAccessToken() = default;

  std::string kid_;
  std::string signing_input_;  // header_b64 "." payload_b64
  std::string payload_;        // JSON text, untrusted until the signature is checked
  std::string signature_;
};

// The verified claims of a parsed token, with `key` (the key its kid names),
// or UNAUTHENTICATED with a short reason meant for the server log ("token
// expired", "token signature invalid", ...). The reason never echoes token
// content; callers should still not pass it to clients. Never throws.
absl::StatusOr<AccessClaims> VerifyAccessToken(const UnverifiedAccessToken& token,
                                               const Ed25519PublicKey& key,
                                               const VerifyOptions& options);

// Parse, then verify with the key `key_for_kid` returns (nullptr for an
// unknown key id).
absl::StatusOr<AccessClaims> VerifyAccessToken(
    absl::string_view token,
    absl::FunctionRef<const Ed25519PublicKey*(absl::string_view kid)> key_for_kid,
    const VerifyOptions& options);

}  // namespace crm::auth
