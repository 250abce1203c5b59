// crm-leads: flags and wiring only; see README.md in this folder.

#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "services/leads/embedded_migrations.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "leads", .default_port = 50052});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::leads::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  // The generated base classes answer UNIMPLEMENTED for every method until
  // the leads issue lands the implementation.
  crm::leads::v1::LeadService::CallbackService lead_service;

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&lead_service, crm::leads::v1::LeadService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
