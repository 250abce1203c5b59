#pragma once

// What end-to-end tests do over and over against the real binaries: write a
// secret file for a service to read, make a call's context (a deadline, and
// the bearer token when there is one), and sign in.
//
//   ASSERT_TRUE(WriteTestFile(dir + "/admin_password", "pass-1").ok());
//   absl::StatusOr<std::string> token = SignIn(auth->channel(), "admin@crm.local", "pass-1");
//   stub->GetLead(CallContext(*token).get(), request, &response);

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/auth/v1/auth_service.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace crm::testing {

// Writes `content` to `path` (mode 600: secrets), replacing it.
absl::Status WriteTestFile(const std::string& path, const std::string& content);

// A context with a deadline `timeout` from now and, for a non-empty
// `token`, `authorization: Bearer <token>`.
std::unique_ptr<grpc::ClientContext> CallContext(const std::string& token,
                                                 absl::Duration timeout = absl::Seconds(20));

// AuthService.Login: the whole response (tokens and the user).
absl::StatusOr<auth::v1::LoginResponse> SignIn(const std::shared_ptr<grpc::Channel>& auth,
                                               const std::string& email,
                                               const std::string& password);

}  // namespace crm::testing
