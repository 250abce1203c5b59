#include "common/testing/test_auth.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_calls.h"

namespace crm::testing {

absl::StatusOr<std::unique_ptr<TestAuth>> TestAuth::Start(
    const std::string& dsn, const std::string& dir,
    const std::map<std::string, std::string>& service_secrets,
    const std::vector<std::string>& extra_args) {
  std::unique_ptr<TestAuth> auth(new TestAuth());
  auth->dir_ = dir;
  std::error_code error;
  std::filesystem::create_directories(dir + "/accounts", error);
  if (error) {
    return absl::InternalError(absl::StrCat("mkdir ", dir, "/accounts: ", error.message()));
  }
  if (absl::Status s = WriteTestFile(dir + "/admin_password", kAdminPassword); !s.ok()) {
    return s;
  }
  for (const auto& [name, secret] : service_secrets) {
    if (absl::Status s = WriteTestFile(absl::StrCat(dir, "/accounts/", name, ".secret"), secret);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteTestFile(auth->ServiceSecretFile(name), secret); !s.ok()) {
      return s;
    }
  }
  // Its own address too: with a service account of its own (extra_args), auth
  // signs in to itself to relay its events.
  const int port = FreePort();
  std::vector<std::string> args = {
      "--dsn=" + dsn, "--admin_password_file=" + dir + "/admin_password",
      "--service_accounts_dir=" + dir + "/accounts", "--max_hashes_per_second=0",
      absl::StrCat("--auth_address=127.0.0.1:", port)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::StartOnPort(port, "auth", args);
  if (!process.ok()) {
    return process.status();
  }
  auth->process_ = *std::move(process);
  auth->users_ = auth::v1::UserService::NewStub(auth->process_->channel());
  absl::StatusOr<TestUser> admin = auth->Login(kAdminEmail, kAdminPassword);
  if (!admin.ok()) {
    return admin.status();
  }
  auth->admin_ = *admin;
  return auth;
}

std::string TestAuth::ServiceSecretFile(const std::string& name) const {
  return absl::StrCat(dir_, "/", name, ".secret");
}

absl::StatusOr<TestUser> TestAuth::Login(const std::string& email, const std::string& password) {
  absl::StatusOr<auth::v1::LoginResponse> session = SignIn(process_->channel(), email, password);
  if (!session.ok()) {
    return session.status();
  }
  return TestUser{.id = session->user().id(), .token = session->access_token()};
}

absl::StatusOr<TestUser> TestAuth::CreateUser(const std::string& name, auth::v1::Role role) {
  auth::v1::CreateUserRequest request;
  const std::string email = absl::StrCat(name, "@crm.local");
  request.mutable_user()->set_name(name);
  request.mutable_user()->set_email(email);
  request.mutable_user()->set_role(role);
  request.set_password(kUserPassword);
  auth::v1::CreateUserResponse response;
  grpc::Status status = users_->CreateUser(CallContext(admin_.token).get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("CreateUser ", name, ": ", status.error_message()));
  }
  return Login(email, kUserPassword);
}

absl::Status TestAuth::Deactivate(int64_t id) {
  auth::v1::DeactivateUserRequest request;
  request.set_id(id);
  auth::v1::DeactivateUserResponse response;
  grpc::Status status = users_->DeactivateUser(CallContext(admin_.token).get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return absl::OkStatus();
}

}  // namespace crm::testing
