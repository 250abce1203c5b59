#pragma once

// A throwaway PostgreSQL cluster for tests: initdb into a fresh temporary
// directory, started on a free loopback port with a private socket
// directory, and stopped and deleted when the object goes away. Tests never
// touch a server that happens to be running on the machine.
//
//   auto cluster = crm::testing::PgCluster::Create();
//   ASSERT_TRUE(cluster.ok()) << cluster.status();
//   auto dsn = (*cluster)->CreateServiceDatabase("crm_leads");

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crm::testing {

class PgCluster {
 public:
  static absl::StatusOr<std::unique_ptr<PgCluster>> Create();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;
  ~PgCluster();

  int port() const { return port_; }

  // Loopback DSN for `user` on `dbname` (the cluster trusts loopback).
  std::string Dsn(const std::string& dbname, const std::string& user = "postgres") const;

  // Creates login role `name` and database `name` owned by it, as the real
  // runner does for each service; returns the role's DSN.
  absl::StatusOr<std::string> CreateServiceDatabase(const std::string& name);

  // Runs SQL as the superuser.
  absl::Status Exec(const std::string& sql, const std::string& dbname = "postgres");

  // Ends every session connected to `dbname` (except the one running this),
  // as an administrator's pg_terminate_backend would: the clients' next
  // statements fail on a dead connection.
  absl::Status TerminateConnections(const std::string& dbname);

  // Freezes the server and every backend (SIGSTOP): what a hung host looks
  // like, with no RST and no FIN; Thaw (SIGCONT) lets them go on.
  absl::Status Freeze();
  absl::Status Thaw();

  // Stops the server (fast shutdown) and starts it again on the same port
  // and data, for tests of connection loss.
  absl::Status Stop();
  absl::Status Start();

 private:
  PgCluster(std::string dir, int port);
  // Stops and deletes clusters whose test process is gone (killed from
  // outside, so its destructor never ran).
  static void ReapAbandoned();
  absl::Status RunPg(const std::vector<std::string>& argv);

  const std::string dir_;
  int port_;
  bool running_ = false;
};

}  // namespace crm::testing
