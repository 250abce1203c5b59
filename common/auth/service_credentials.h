#pragma once

// A service's own identity for calls to other services: it signs in to auth
// as its SERVICE account (`<name>@service.crm.local`, secret from a file that
// tools/crm generates or a Kubernetes Secret mounts), keeps the access token
// fresh, and attaches it to outgoing calls. It renews with the refresh token
// (no password check, no sign-in activity) and signs in with the secret again
// only when that fails: at start, after a secret rotation or a revocation.
//
//   auto credentials = ServiceCredentials::FromFile(auth_channel, "leads", path);
//   grpc::ClientContext context;
//   if (absl::Status s = (*credentials)->Attach(context); !s.ok()) return s;
//
// The secret and tokens are never logged.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace crm::auth {

// The email of service account `name`: "<name>@service.crm.local".
std::string ServiceAccountEmail(absl::string_view name);

// The inverse: "leads" for "leads@service.crm.local"; empty for other emails.
std::string ServiceAccountName(absl::string_view email);

class ServiceCredentials {
 public:
  // `min_remaining`: how long a token handed out stays valid at least
  // (tests shorten the renewal cycle by raising it).
  ServiceCredentials(std::shared_ptr<grpc::Channel> auth_channel, std::string email,
                     std::string secret, absl::Duration min_remaining = absl::Minutes(5));

  // Reads the secret for account `name` from `secret_file`.
  static absl::StatusOr<std::unique_ptr<ServiceCredentials>> FromFile(
      std::shared_ptr<grpc::Channel> auth_channel, const std::string& name,
      const std::string& secret_file);

  // A token valid for at least another `min_remaining` (five minutes),
  // renewed if needed: a stream opened with it ends when it expires, and the
  // outbox relay reopens its stream every two.
  absl::StatusOr<std::string> AccessToken();

  // Sets `authorization: Bearer <token>` on an outgoing call.
  absl::Status Attach(grpc::ClientContext& context);

 private:
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SignIn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string email_;
  const std::string secret_;
  const absl::Duration min_remaining_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time expires_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string refresh_token_ ABSL_GUARDED_BY(mu_);  // empty: sign in
};

}  // namespace crm::auth
