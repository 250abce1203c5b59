// crm-properties: flags and wiring only; see README.md in this folder.

#include <memory>

#include "common/auth/authenticator.h"
#include "common/auth/authenticator_flags.h"
#include "common/client/channel.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/server/service_database.h"
#include "services/properties/embedded_migrations.h"
#include "services/properties/property_service.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "properties", .default_port = 50053});
  auto pool = crm::server::OpenServiceDatabase(flags, crm::properties::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }

  crm::auth::Authenticator authenticator(
      std::make_unique<crm::auth::RemoteKeySource>(
          crm::client::CreateServiceChannel(crm::auth::AuthAddressFromFlags(), flags.client_tls)),
      crm::auth::AuthenticatorOptionsFromFlags());
  crm::properties::PropertyServiceImpl property_service(&authenticator);

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&property_service, crm::properties::v1::PropertyService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  return runner.Run();
}
