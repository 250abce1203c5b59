#include "tools/load/login.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/files/read_file.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::load {

absl::StatusOr<AccessToken> Login(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& email, const std::string& password_file,
                                  absl::Duration timeout) {
  absl::StatusOr<std::string> password = ReadFileToString(password_file);
  if (!password.ok()) {
    return password.status();
  }
  return LoginWithPassword(channel, email,
                           std::string(absl::StripTrailingAsciiWhitespace(*password)), timeout);
}

absl::StatusOr<AccessToken> LoginWithPassword(const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& email, const std::string& password,
                                              absl::Duration timeout) {
  auth::v1::LoginRequest request;
  request.set_email(email);
  request.set_password(password);
  auth::v1::LoginResponse response;
  grpc::ClientContext context;
  context.set_deadline(client::DeadlineAfter(timeout));
  const grpc::Status status =
      auth::v1::AuthService::NewStub(channel)->Login(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("sign-in as ", email, " failed: ", status.error_message()));
  }
  return AccessToken{
      .token = response.access_token(),
      .expires_at = absl::FromUnixSeconds(response.access_token_expires_at().seconds()),
      .user_id = response.user().id()};
}

}  // namespace crm::load
