#include "common/outbox/relay_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "common/client/channel.h"
#include "common/log/log.h"

ABSL_FLAG(std::string, audit_address, "127.0.0.1:50055",
          "host:port of the audit service, where the outbox relay sends activities");
ABSL_FLAG(int32_t, outbox_retention_hours, 168, "delivered outbox rows are deleted after this");

namespace crm::outbox {

ConfiguredRelay::ConfiguredRelay(auth::ServiceCredentials* credentials, RelayOptions options)
    : credentials_(credentials), relay_([this, &options] {
        options.authorize = [this](grpc::ClientContext& context) {
          return credentials_->Attach(context);
        };
        return std::move(options);
      }()) {
  relay_.Start();
}

void AddRelayHealthDetail(server::Runner& runner, const ConfiguredRelay* relay) {
  runner.AddHealthDetail("outbox", [relay]() -> std::string {
    return relay == nullptr ? R"("disabled")" : relay->relay().HealthJson();
  });
}

absl::Duration OutboxRetentionFromFlags() {
  return absl::Hours(absl::GetFlag(FLAGS_outbox_retention_hours));
}

std::unique_ptr<ConfiguredRelay> StartRelayFromFlags(const server::ServiceFlags& flags,
                                                     auth::ServiceCredentials* credentials) {
  if (credentials == nullptr) {
    log::Warning(
        "outbox relay disabled: --service_account_secret_file is not set; activities "
        "stay in the outbox until it is");
    return nullptr;
  }
  RelayOptions options;
  options.dsn = flags.dsn;
  options.audit_channel = AuditChannelFromFlags(flags);
  return std::make_unique<ConfiguredRelay>(credentials, std::move(options));
}

std::shared_ptr<grpc::Channel> AuditChannelFromFlags(const server::ServiceFlags& flags) {
  return client::CreateServiceChannel(absl::GetFlag(FLAGS_audit_address), flags.client_tls);
}

}  // namespace crm::outbox
