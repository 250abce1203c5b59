#include "common/testing/test_calls.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"

namespace crm::testing {

absl::Status WriteTestFile(const std::string& path, const std::string& content) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  const bool written = fwrite(content.data(), 1, content.size(), f) == content.size();
  const bool closed = fclose(f) == 0;
  if (!written || !closed || chmod(path.c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

std::unique_ptr<grpc::ClientContext> CallContext(const std::string& token, absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout));
  if (!token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  return context;
}

absl::StatusOr<auth::v1::LoginResponse> SignIn(const std::shared_ptr<grpc::Channel>& auth,
                                               const std::string& email,
                                               const std::string& password) {
  auth::v1::LoginRequest request;
  request.set_email(email);
  request.set_password(password);
  auth::v1::LoginResponse response;
  grpc::Status status =
      auth::v1::AuthService::NewStub(auth)->Login(CallContext("").get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(email, ": ", status.error_message()));
  }
  return response;
}

}  // namespace crm::testing
