// crm-leads: flags and wiring only; see README.md in this folder.

#include "common/auth/authenticator_flags.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/outbox/relay_flags.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/service/service_database.h"
#include "services/leads/embedded_migrations.h"
#include "services/leads/lead_service.h"

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "leads", .default_port = 50052});
  auto pool =
      crm::service::OpenServiceDatabase(flags, crm::outbox::WithOutbox(crm::leads::Migrations()));
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
  crm::leads::LeadServiceImpl lead_service(authenticator.get());

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&lead_service, crm::leads::v1::LeadService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  crm::outbox::AddRelayHealthDetail(runner, relay->get());
  return runner.Run();
}
