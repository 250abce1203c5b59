// crm-properties: flags and wiring only; see README.md in this folder.

#include "common/auth/authenticator_flags.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/outbox/relay_flags.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/service/service_database.h"
#include "services/properties/embedded_migrations.h"
#include "services/properties/property_service.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "properties", .default_port = 50053});
  auto pool = crm::service::OpenServiceDatabase(
      flags, crm::outbox::WithOutbox(crm::properties::Migrations()));
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }
  // Delivers this service's activities to audit until main() returns.
  auto relay = crm::outbox::StartRelayFromFlags(flags);
  if (!relay.ok()) {
    crm::log::Error("start failed").Str("error", relay.status().ToString());
    return 1;
  }

  auto authenticator = crm::auth::RemoteAuthenticatorFromFlags(flags.client_tls);
  crm::properties::PropertyServiceImpl property_service(authenticator.get());

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&property_service, crm::properties::v1::PropertyService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  crm::outbox::AddRelayHealthDetail(runner, relay->get());
  return runner.Run();
}
