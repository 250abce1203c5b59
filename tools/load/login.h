#pragma once

// Signing in once before a run (--login_email, --login_password_file): calls
// crm.auth.v1.AuthService/Login and yields the access token to send as
// `authorization: Bearer <token>`. The password is read from a file and never
// printed.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace crm::load {

struct AccessToken {
  std::string token;
  absl::Time expires_at;
  int64_t user_id = 0;  // who signed in (LoginResponse.user.id)
};

// Reads the password (trailing whitespace dropped, as auth reads its own
// password files) and signs in with a deadline of `timeout`.
absl::StatusOr<AccessToken> Login(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& email, const std::string& password_file,
                                  absl::Duration timeout);

// The same with the password itself (one a tool generated and keeps in
// memory, as crm-notify-bench does for its bench users). The error carries
// auth's code, so a caller can retry RESOURCE_EXHAUSTED (sign-ins past auth's
// hashing budget).
absl::StatusOr<AccessToken> LoginWithPassword(const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& email, const std::string& password,
                                              absl::Duration timeout);

}  // namespace crm::load
