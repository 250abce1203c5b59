// crm-notifications: flags and wiring only; see README.md in this folder.

#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "services/notifications/embedded_migrations.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "notifications", .default_port = 50054});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::notifications::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  // The generated base classes answer UNIMPLEMENTED for every method until
  // the notifications issue lands the implementation.
  crm::notifications::v1::NotificationService::CallbackService notification_service;

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&notification_service,
                    crm::notifications::v1::NotificationService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
