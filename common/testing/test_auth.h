#pragma once

// The real crm-auth beside a service under test: started on its own
// database with the admin's password and the service accounts' secrets
// written to files, signed in as the admin, and able to make users of any
// role and sign them in.
//
//   auto auth = TestAuth::Start(auth_dsn, dir, {{"properties", kSecret}});
//   TestUser agent = *(*auth)->CreateUser("ana", auth::v1::ROLE_AGENT);
//   stub->CreateProperty(CallContext(agent.token).get(), request, &response);

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/testing/service_process.h"
#include "crm/auth/v1/user.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"

namespace crm::testing {

struct TestUser {
  int64_t id = 0;
  std::string token;
};

class TestAuth {
 public:
  static constexpr char kAdminEmail[] = "admin@crm.local";
  static constexpr char kAdminPassword[] = "test-admin-password";
  // Every user CreateUser makes signs in with this.
  static constexpr char kUserPassword[] = "test-user-password";

  // `service_secrets`: service account name → secret, written to
  // `dir`/accounts/<name>.secret for auth (and to `dir`/<name>.secret for the
  // service to present: ServiceSecretFile).
  // `extra_args` go to crm-auth as well (say its --audit_address, or
  // --access_token_ttl_seconds).
  static absl::StatusOr<std::unique_ptr<TestAuth>> Start(
      const std::string& dsn, const std::string& dir,
      const std::map<std::string, std::string>& service_secrets,
      const std::vector<std::string>& extra_args = {});

  ServiceProcess& process() { return *process_; }
  const TestUser& admin() const { return admin_; }
  // The file holding a service account's secret, for --service_account_secret_file.
  std::string ServiceSecretFile(const std::string& name) const;

  absl::StatusOr<TestUser> Login(const std::string& email, const std::string& password);
  // A user <name>@crm.local with `role`, signed in.
  absl::StatusOr<TestUser> CreateUser(const std::string& name, auth::v1::Role role);
  absl::Status Deactivate(int64_t id);

 private:
  TestAuth() = default;

  std::string dir_;
  std::unique_ptr<ServiceProcess> process_;
  std::unique_ptr<auth::v1::UserService::Stub> users_;
  TestUser admin_;
};

}  // namespace crm::testing
