#pragma once

// Serves a service's gRPC implementations the same way in every binary:
// health (grpc.health.v1, reflection-visible), server reflection, one JSON
// log line per RPC, message size limits, dependency watching (health goes
// NOT_SERVING while the database is down) and graceful shutdown.
//
//   crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
//   runner.AddService(&lead_service, crm::leads::v1::LeadService::service_full_name());
//   runner.AddDependency("database", [&pool] { return pool.Ping(); });
//   return runner.Run();  // until SIGTERM/SIGINT, then drain and return 0

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/server/flags.h"
#include "common/server/health_service.h"
#include "common/server/tls.h"
#include "grpcpp/server.h"

namespace crm::server {

struct RunnerOptions {
  std::string service;  // for logs
  std::string listen = "127.0.0.1:0";
  absl::Duration drain = absl::Seconds(10);
  int max_message_bytes = 4 << 20;
  bool reflection = true;
  absl::Duration dependency_check_interval = absl::Seconds(1);
  ServerTlsOptions tls;  // default: plaintext
  // Keeps each stream's HTTP/2 receive window at its initial 64 KiB instead
  // of letting gRPC grow it to megabytes: a client streaming a bulk upload
  // then runs just ahead of what the service has stored, so its progress is
  // true and little of it sits in buffers. For services that take such
  // uploads; on loopback the small window costs no throughput.
  bool fixed_stream_window = false;

  static RunnerOptions FromFlags(const ServiceFlags& flags);
};

class Runner {
 public:
  explicit Runner(RunnerOptions options);
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  ~Runner();

  // Registers an implementation; `full_name` (e.g. "crm.leads.v1.LeadService")
  // gets its own health entry. Call before Start().
  void AddService(grpc::Service* service, const std::string& full_name);

  // Something the service cannot serve without. While any check fails, every
  // health entry is NOT_SERVING, so load balancers and probes route around
  // this replica until it recovers. Call before Start().
  void AddDependency(std::string name, std::function<absl::Status()> check);

  // A named part of the health details (HealthService::SetDetails): `value`
  // returns a JSON value's text, e.g. {"pending":3}; it runs on the health
  // watcher's thread with the dependency checks, so it must be cheap and
  // never block. Call before Start().
  void AddHealthDetail(std::string name, std::function<std::string()> value);

  // Runs at the start of Stop(), once health is NOT_SERVING: a service ends
  // its long-lived streams here (live feeds, ingest streams) so the drain
  // waits only for calls that will finish. Call before Start().
  void AddShutdownHook(std::function<void()> hook);

  // Binds and starts serving. Fails if the address cannot be bound
  // (UNAVAILABLE) or a TLS file cannot be loaded (FAILED_PRECONDITION).
  absl::Status Start();

  // The bound port (useful with port 0 in tests). Valid after Start().
  int port() const { return port_; }

  // Health NOT_SERVING, then waits up to the drain time for in-flight RPCs
  // to finish, cancels what is left and closes every connection. Idempotent.
  void Stop();

  // Start(), wait for SIGTERM or SIGINT (blocked by InitService), Stop().
  // Returns the process exit code.
  int Run();

  HealthService& health() { return health_; }

 private:
  struct Dependency {
    std::string name;
    std::function<absl::Status()> check;
    bool ok = false;
  };

  // Checks every dependency, logs changes and sets health accordingly.
  void CheckDependencies();
  void WatchDependencies();

  const RunnerOptions options_;
  HealthService health_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::vector<Dependency> dependencies_;  // only the watcher thread touches these after Start
  std::vector<std::pair<std::string, std::function<std::string()>>> details_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<int> in_flight_{0};
  absl::Notification stop_watching_;
  std::thread watcher_;
  bool stopped_ = false;
};

}  // namespace crm::server
