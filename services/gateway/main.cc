// crm-gateway: gRPC-web for browser frontends, in front of the services; see
// README.md in this folder.

#include <signal.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "common/auth/authenticator_flags.h"
#include "common/log/log.h"
#include "common/server/flags.h"
#include "services/gateway/backends.h"
#include "services/gateway/cors.h"
#include "services/gateway/http_gateway.h"
#include "services/gateway/jwks.h"

ABSL_FLAG(std::string, leads_address, "127.0.0.1:50052", "host:port of the leads service");
ABSL_FLAG(std::string, properties_address, "127.0.0.1:50053",
          "host:port of the properties service");
ABSL_FLAG(std::string, notifications_address, "127.0.0.1:50054",
          "host:port of the notifications service");
ABSL_FLAG(std::string, audit_address, "127.0.0.1:50055", "host:port of the audit service");
ABSL_FLAG(std::string, cors_allowed_origins, "",
          "comma-separated origins (scheme://host[:port]) whose pages may call through the "
          "gateway; others get no CORS headers");
ABSL_FLAG(int64_t, max_body_bytes, 4 << 20, "largest request body accepted");
ABSL_FLAG(int32_t, read_timeout_seconds, 10,
          "a client must send a request's headers and body within this");
ABSL_FLAG(int32_t, stream_idle_timeout_seconds, 300,
          "a streaming response's connection may stay quiet this long");
ABSL_FLAG(int32_t, jwks_refresh_seconds, 60, "how often auth's public keys are fetched again");
ABSL_FLAG(int32_t, max_connections, 10000,
          "browser connections kept at most; past it a new one is refused and closed");

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "gateway", .default_port = 8080});
  crm::gateway::Backends backends({{"auth", crm::auth::AuthAddressFromFlags()},
                                   {"leads", absl::GetFlag(FLAGS_leads_address)},
                                   {"properties", absl::GetFlag(FLAGS_properties_address)},
                                   {"notifications", absl::GetFlag(FLAGS_notifications_address)},
                                   {"audit", absl::GetFlag(FLAGS_audit_address)}},
                                  flags.client_tls);
  backends.StartHealthChecks(absl::Seconds(2));
  crm::gateway::JwksCache jwks(backends.Find("auth")->channel,
                               absl::Seconds(absl::GetFlag(FLAGS_jwks_refresh_seconds)));
  const crm::gateway::CorsPolicy cors(absl::GetFlag(FLAGS_cors_allowed_origins));
  crm::gateway::HttpGateway gateway(
      {.listen = flags.listen,
       .max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes)),
       .max_message_bytes = static_cast<size_t>(flags.max_message_bytes),
       .read_timeout = absl::Seconds(absl::GetFlag(FLAGS_read_timeout_seconds)),
       .stream_idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_stream_idle_timeout_seconds)),
       .max_connections = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_connections))),
       .trusted_proxies = flags.trusted_proxies},
      &backends, &cors, &jwks);
  if (absl::Status bound = gateway.Bind(); !bound.ok()) {
    crm::log::Error("start failed").Str("error", bound.ToString());
    return 1;
  }
  crm::log::Info("serving")
      .Str("listen", flags.listen)
      .Int("port", gateway.port())
      .Str("cors_allowed_origins", absl::GetFlag(FLAGS_cors_allowed_origins));
  // SIGTERM or SIGINT (blocked in every thread by InitService): drain.
  std::thread signals([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int signal = 0;
    sigwait(&set, &signal);
    crm::log::Info("shutting down").Int("signal", signal);
    gateway.Stop(flags.drain);
  });
  gateway.Run();
  signals.join();
  crm::log::Info("stopped");
  crm::log::Flush();
  return 0;
}
