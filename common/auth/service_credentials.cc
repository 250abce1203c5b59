#include "common/auth/service_credentials.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/client/channel.h"
#include "common/files/read_file.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"

namespace crm::auth {

namespace {
constexpr absl::string_view kServiceDomain = "@service.crm.local";
constexpr absl::Duration kCallTimeout = absl::Seconds(5);
}  // namespace

std::string ServiceAccountEmail(absl::string_view name) {
  return absl::StrCat(name, kServiceDomain);
}

std::string ServiceAccountName(absl::string_view email) {
  if (!absl::ConsumeSuffix(&email, kServiceDomain)) {
    return "";
  }
  return std::string(email);
}

ServiceCredentials::ServiceCredentials(std::shared_ptr<grpc::Channel> auth_channel,
                                       std::string email, std::string secret,
                                       absl::Duration min_remaining)
    : channel_(std::move(auth_channel)),
      email_(std::move(email)),
      secret_(std::move(secret)),
      min_remaining_(min_remaining) {}

absl::StatusOr<std::unique_ptr<ServiceCredentials>> ServiceCredentials::FromFile(
    std::shared_ptr<grpc::Channel> auth_channel, const std::string& name,
    const std::string& secret_file) {
  absl::StatusOr<std::string> secret = ReadFileToString(secret_file);
  if (!secret.ok()) {
    return secret.status();
  }
  return std::make_unique<ServiceCredentials>(
      std::move(auth_channel), ServiceAccountEmail(name),
      std::string(absl::StripTrailingAsciiWhitespace(*secret)));
}

absl::StatusOr<std::string> ServiceCredentials::AccessToken() {
  absl::MutexLock lock(&mu_);
  if (absl::Now() + min_remaining_ < expires_at_) {
    return token_;
  }
  if (!refresh_token_.empty()) {
    absl::Status refreshed = Refresh();
    if (refreshed.ok()) {
      return token_;
    }
    refresh_token_.clear();
    log::Info("service account token refresh failed; signing in again")
        .Str("account", email_)
        .Str("error", refreshed.ToString());
  }
  if (absl::Status signed_in = SignIn(); !signed_in.ok()) {
    return absl::Status(signed_in.code(),
                        absl::StrCat("service account sign-in failed: ", signed_in.message()));
  }
  return token_;
}

absl::Status ServiceCredentials::Refresh() {
  auto stub = crm::auth::v1::AuthService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(client::OutgoingDeadline(kCallTimeout));
  crm::auth::v1::RefreshTokenRequest request;
  request.set_refresh_token(refresh_token_);
  crm::auth::v1::RefreshTokenResponse response;
  if (grpc::Status status = stub->RefreshToken(&context, request, &response); !status.ok()) {
    return FromGrpcStatus(status);
  }
  token_ = response.access_token();
  refresh_token_ = response.refresh_token();
  expires_at_ = absl::FromUnixSeconds(response.access_token_expires_at().seconds());
  return absl::OkStatus();
}

absl::Status ServiceCredentials::SignIn() {
  auto stub = crm::auth::v1::AuthService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(client::OutgoingDeadline(kCallTimeout));
  crm::auth::v1::LoginRequest request;
  request.set_email(email_);
  request.set_password(secret_);
  crm::auth::v1::LoginResponse response;
  if (grpc::Status status = stub->Login(&context, request, &response); !status.ok()) {
    return FromGrpcStatus(status);
  }
  token_ = response.access_token();
  refresh_token_ = response.refresh_token();
  expires_at_ = absl::FromUnixSeconds(response.access_token_expires_at().seconds());
  return absl::OkStatus();
}

absl::Status ServiceCredentials::Attach(grpc::ClientContext& context) {
  absl::StatusOr<std::string> token = AccessToken();
  if (!token.ok()) {
    return token.status();
  }
  context.AddMetadata("authorization", absl::StrCat("Bearer ", *token));
  return absl::OkStatus();
}

}  // namespace crm::auth
