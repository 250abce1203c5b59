// crm-audit: flags and wiring only; see README.md in this folder.

#include "common/auth/authenticator_flags.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "services/audit/audit_service.h"
#include "services/audit/embedded_migrations.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "audit", .default_port = 50055});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::audit::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  auto authenticator = crm::auth::RemoteAuthenticatorFromFlags(flags.client_tls);
  crm::audit::AuditServiceImpl audit_service(authenticator.get());

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&audit_service, crm::audit::v1::AuditService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
