#pragma once

// The outbox relay of a service binary, configured from flags (each also
// settable as CRM_<SERVICE>_<FLAG>):
//   --audit_address                 host:port of the audit service
//   --outbox_retention_hours        how long delivered rows are kept
//
// It authenticates with the service's credentials (ServiceCredentialsFromFlags);
// without them there is no relay: events wait in the outbox, and a warning
// says so.
//
//   auto relay = crm::outbox::StartRelayFromFlags(flags, credentials.get());
//   if (!relay.ok()) return 1;
//   ...
//   runner.AddShutdownHook([&] { if (*relay) (*relay)->Stop(); });

#include <memory>

#include "absl/status/statusor.h"
#include "common/auth/service_credentials.h"
#include "common/outbox/relay.h"
#include "common/server/flags.h"
#include "common/server/runner.h"

namespace crm::outbox {

class ConfiguredRelay {
 public:
  // `credentials` must outlive the relay.
  ConfiguredRelay(auth::ServiceCredentials* credentials, RelayOptions options);
  void Stop() { relay_.Stop(); }
  const Relay& relay() const { return relay_; }

 private:
  auth::ServiceCredentials* const credentials_;
  Relay relay_;
};

// Reports the relay's state (Relay::HealthJson, or "disabled" for nullptr)
// in the runner's health details as "outbox".
void AddRelayHealthDetail(server::Runner& runner, const ConfiguredRelay* relay);

// --outbox_retention_hours, for outbox::PurgeDelivered.
absl::Duration OutboxRetentionFromFlags();

// A channel to audit at --audit_address (TLS as the service's client flags
// say): the relay's, and any other caller of audit in the service.
std::shared_ptr<grpc::Channel> AuditChannelFromFlags(const server::ServiceFlags& flags);

// The started relay; nullptr when `credentials` is (no service account).
std::unique_ptr<ConfiguredRelay> StartRelayFromFlags(const server::ServiceFlags& flags,
                                                     auth::ServiceCredentials* credentials);

}  // namespace crm::outbox
