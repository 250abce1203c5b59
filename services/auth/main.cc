// crm-auth: flags and wiring only; see README.md in this folder.

#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "services/auth/embedded_migrations.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "auth", .default_port = 50051});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::auth::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  // The generated base classes answer UNIMPLEMENTED for every method until
  // issue #3 lands the implementation.
  crm::auth::v1::AuthService::CallbackService auth_service;
  crm::auth::v1::UserService::CallbackService user_service;

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&auth_service, crm::auth::v1::AuthService::service_full_name());
  runner.AddService(&user_service, crm::auth::v1::UserService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
