#pragma once

// Process start-up shared by every service binary: the common flags, their
// environment overrides, signal set-up and the log's service name.
//
// Every flag `--foo` of a binary can also be set as `CRM_<SERVICE>_FOO` in
// the environment (e.g. CRM_LEADS_LISTEN, CRM_LEADS_DSN); the command line
// wins over the environment, which wins over the default.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/client/tls_options.h"
#include "common/server/client_address.h"
#include "common/server/tls.h"

namespace crm::server {

struct ServiceInfo {
  std::string name;  // "auth", "leads", ... (lower case)
  int default_port;  // 50051 ...
};

struct ServiceFlags {
  std::string service;
  std::string listen;  // host:port
  std::string dsn;     // libpq connection string for this service's database
  int db_pool_size;
  int db_read_connections;        // db::PipelinedReader's; 0 disables it
  bool db_reader_on_grpc_thread;  // its loop on a lent callback thread
  absl::Duration db_startup_timeout;
  absl::Duration db_health_interval;
  absl::Duration drain;
  int max_message_bytes;
  bool reflection;
  std::string page_token_secret_file;
  ServerTlsOptions tls;                 // the listening port
  client::ClientTlsOptions client_tls;  // calls to other services
  TrustedProxies trusted_proxies;       // whose x-forwarded-for names the client
};

// Call first thing in main(), before any thread starts: blocks SIGTERM and
// SIGINT in every thread (the runner waits for them), applies environment
// overrides, parses argv and exits with a usage message on bad flags
// (including TLS flags that do not go together, and TLS files that are
// missing or broken: better now than after the wait for the database).
ServiceFlags InitService(int argc, char** argv, const ServiceInfo& info);

// The environment variable that overrides `flag` for `service`:
// EnvVarForFlag("leads", "db_pool_size") == "CRM_LEADS_DB_POOL_SIZE".
std::string EnvVarForFlag(const std::string& service, const std::string& flag);

// Blocks SIGTERM and SIGINT in the calling thread and the threads it starts.
void BlockTerminationSignals();

// Waits up to `timeout` for a (blocked) SIGTERM or SIGINT; returns its
// number, or 0 if none arrived.
int WaitForTerminationSignal(absl::Duration timeout);

}  // namespace crm::server
