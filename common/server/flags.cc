#include "common/server/flags.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "common/log/log.h"

ABSL_FLAG(std::string, listen, "",
          "host:port to serve gRPC on; default 127.0.0.1:<the service's port>");
ABSL_FLAG(std::string, dsn, "",
          "libpq connection string of the service's own database; default "
          "host=127.0.0.1 port=25432 dbname=crm_<service> user=crm_<service>");
ABSL_FLAG(int32_t, db_pool_size, 8, "database connections in the pool");
ABSL_FLAG(int32_t, db_read_connections, 2,
          "connections of the pipelined reader that serves a service's hottest reads "
          "(0: those reads use the pool too)");
ABSL_FLAG(bool, db_reader_on_grpc_thread, true,
          "run the pipelined reader on one of gRPC's callback threads rather than a thread of "
          "its own: fewer context switches per call (docs/decisions.md, 109)");
ABSL_FLAG(int32_t, db_startup_timeout_seconds, 30,
          "how long to wait for the database at start-up before exiting non-zero");
ABSL_FLAG(int32_t, db_health_interval_ms, 1000,
          "how often the database is probed; health is NOT_SERVING while it is down");
ABSL_FLAG(int32_t, drain_seconds, 10,
          "on SIGTERM/SIGINT, how long in-flight RPCs may take before they are cancelled");
ABSL_FLAG(int32_t, max_message_bytes, 4 << 20, "largest request or response message accepted");
ABSL_FLAG(bool, reflection, true,
          "serve gRPC server reflection (turn off in production if not wanted)");
ABSL_FLAG(std::string, page_token_secret_file, "",
          "file holding the secret that signs page tokens; shared by all replicas. "
          "Empty: a random secret, so tokens do not survive a restart");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain (leaf first) to serve TLS with, together with --tls_key_file. "
          "Empty: plaintext, which is meant for loopback only");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, every client must present a certificate signed by it "
          "(mutual TLS)");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle that verifies the services this one calls. Empty: calls them in "
          "plaintext");
ABSL_FLAG(std::string, tls_client_cert_file, "",
          "PEM certificate chain presented when calling other services (mutual TLS), together "
          "with --tls_client_key_file");
ABSL_FLAG(std::string, tls_client_key_file, "", "PEM private key of --tls_client_cert_file");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(std::vector<std::string>, trusted_proxies, {},
          "addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) of proxies whose "
          "x-forwarded-for names the client; empty: the TCP peer is the client");

namespace crm::server {
namespace {

void ApplyEnvironmentOverrides(const std::string& service) {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string var = EnvVarForFlag(service, std::string(name));
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) {
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::cerr << "crm-" << service << ": bad value in " << var << ": " << error << "\n";
      std::exit(2);
    }
  }
}

log::Level ParseLevel(const std::string& level) {
  if (level == "debug") {
    return log::Level::kDebug;
  }
  if (level == "warning") {
    return log::Level::kWarning;
  }
  if (level == "error") {
    return log::Level::kError;
  }
  return log::Level::kInfo;
}

int Positive(int32_t value, const char* flag, const std::string& service) {
  if (value <= 0) {
    std::cerr << "crm-" << service << ": --" << flag << " must be positive\n";
    std::exit(2);
  }
  return value;
}

void ExitIfInvalid(const absl::Status& status, const std::string& service) {
  if (!status.ok()) {
    std::cerr << "crm-" << service << ": " << status.message() << "\n";
    std::exit(2);
  }
}

}  // namespace

std::string EnvVarForFlag(const std::string& service, const std::string& flag) {
  return absl::AsciiStrToUpper(absl::StrCat("CRM_", service, "_", flag));
}

void BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int WaitForTerminationSignal(absl::Duration timeout) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  const timespec wait = absl::ToTimespec(timeout);
  const int signal_number = sigtimedwait(&signals, nullptr, &wait);
  return signal_number > 0 ? signal_number : 0;
}

ServiceFlags InitService(int argc, char** argv, const ServiceInfo& info) {
  BlockTerminationSignals();
#ifdef NDEBUG
  // Debian builds Abseil without NDEBUG, so absl::Mutex would run its
  // deadlock detection (a lock-order graph updated on every acquisition) in
  // production too; only debug builds want that price.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  log::SetServiceName(info.name);
  absl::SetProgramUsageMessage(absl::StrCat("The CRM ", info.name,
                                            " service. Every flag --foo may also be set as ",
                                            EnvVarForFlag(info.name, "foo"), "."));
  ApplyEnvironmentOverrides(info.name);
  absl::ParseCommandLine(argc, argv);
  log::SetMinLevel(ParseLevel(absl::GetFlag(FLAGS_log_level)));

  ServiceFlags flags;
  flags.service = info.name;
  flags.listen = absl::GetFlag(FLAGS_listen);
  if (flags.listen.empty()) {
    flags.listen = absl::StrCat("127.0.0.1:", info.default_port);
  }
  flags.dsn = absl::GetFlag(FLAGS_dsn);
  if (flags.dsn.empty()) {
    flags.dsn =
        absl::StrCat("host=127.0.0.1 port=25432 dbname=crm_", info.name, " user=crm_", info.name);
  }
  flags.db_pool_size = Positive(absl::GetFlag(FLAGS_db_pool_size), "db_pool_size", info.name);
  flags.db_read_connections = std::max(0, absl::GetFlag(FLAGS_db_read_connections));
  flags.db_reader_on_grpc_thread = absl::GetFlag(FLAGS_db_reader_on_grpc_thread);
  flags.db_startup_timeout = absl::Seconds(absl::GetFlag(FLAGS_db_startup_timeout_seconds));
  flags.db_health_interval = absl::Milliseconds(
      Positive(absl::GetFlag(FLAGS_db_health_interval_ms), "db_health_interval_ms", info.name));
  flags.drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  flags.max_message_bytes =
      Positive(absl::GetFlag(FLAGS_max_message_bytes), "max_message_bytes", info.name);
  flags.reflection = absl::GetFlag(FLAGS_reflection);
  flags.page_token_secret_file = absl::GetFlag(FLAGS_page_token_secret_file);
  flags.tls = ServerTlsOptions{.cert_file = absl::GetFlag(FLAGS_tls_cert_file),
                               .key_file = absl::GetFlag(FLAGS_tls_key_file),
                               .client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file)};
  // The TLS files are checked now, not after the wait for the database.
  if (flags.tls.enabled() || flags.tls.mutual()) {
    ExitIfInvalid(LoadServerTls(flags.tls).status(), info.name);
  }
  flags.client_tls =
      client::ClientTlsOptions{.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                               .cert_file = absl::GetFlag(FLAGS_tls_client_cert_file),
                               .key_file = absl::GetFlag(FLAGS_tls_client_key_file)};
  ExitIfInvalid(client::ValidateClientTlsOptions(flags.client_tls), info.name);
  absl::StatusOr<TrustedProxies> proxies =
      TrustedProxies::Parse(absl::GetFlag(FLAGS_trusted_proxies));
  ExitIfInvalid(proxies.status(), info.name);
  flags.trusted_proxies = *std::move(proxies);
  if (flags.client_tls.enabled()) {
    ExitIfInvalid(client::LoadClientTls(flags.client_tls).status(), info.name);
  }
  return flags;
}

}  // namespace crm::server
