#pragma once

// Verifies the `authorization: Bearer <access token>` of incoming calls,
// locally: tokens are Ed25519 JWTs signed by the auth service, checked
// against its published public keys, which are fetched once, cached, and
// fetched again when a token names an unknown `kid` (key rotation) — at most
// once per `min_refetch_interval`, so random kids cannot hammer auth.
//
//   Authenticator authenticator(std::make_unique<RemoteKeySource>(auth_channel), {});
//   absl::StatusOr<Caller> caller = authenticator.Authenticate(*context);
//
// A missing, malformed, forged or expired token is UNAUTHENTICATED with a
// generic message; the reason goes to the server log only.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/auth/ed25519_key.h"
#include "grpcpp/channel.h"
#include "grpcpp/server_context.h"

namespace crm::auth {

// Where verification keys come from.
class KeySource {
 public:
  virtual ~KeySource() = default;
  virtual absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() = 0;
};

// Fetches keys from crm.auth.v1.AuthService/ListPublicKeys (public; 3 s deadline).
class RemoteKeySource final : public KeySource {
 public:
  explicit RemoteKeySource(std::shared_ptr<grpc::Channel> auth_channel)
      : channel_(std::move(auth_channel)) {}
  absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

struct AuthenticatorOptions {
  std::string issuer = "crm-auth";
  std::string audience = "crm";
  absl::Duration clock_skew = absl::Seconds(30);
  absl::Duration min_refetch_interval = absl::Seconds(5);
  // Keys are refetched this often even when every kid is known, so a key
  // dropped by auth (after a rotation) stops being trusted.
  absl::Duration key_ttl = absl::Minutes(5);
};

class Authenticator {
 public:
  Authenticator(std::unique_ptr<KeySource> keys, AuthenticatorOptions options);

  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& context);
  absl::StatusOr<Caller> AuthenticateToken(absl::string_view token);

 private:
  // Refetches keys unless that happened less than min_refetch_interval ago.
  void MaybeRefresh();

  const std::unique_ptr<KeySource> source_;
  const AuthenticatorOptions options_;
  absl::Mutex mu_;
  std::map<std::string, Ed25519PublicKey, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
  absl::Time last_fetch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace crm::auth
