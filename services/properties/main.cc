// crm-properties: flags and wiring only; see README.md in this folder.

#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "services/properties/embedded_migrations.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "properties", .default_port = 50053});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::properties::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  // The generated base classes answer UNIMPLEMENTED for every method until
  // the properties issue lands the implementation.
  crm::properties::v1::PropertyService::CallbackService property_service;

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&property_service, crm::properties::v1::PropertyService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
