#pragma once

// Runs a real service binary (build/bin/crm-<name>) for end-to-end tests, on
// a free loopback port, and stops it by pid with SIGTERM when done.
//
//   auto auth = ServiceProcess::Start("auth", {"--dsn=" + dsn});
//   ASSERT_TRUE(auth.ok()) << auth.status();
//   auto stub = grpc::health::v1::Health::NewStub((*auth)->channel());

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace crm::testing {

class ServiceProcess {
 public:
  // Starts the binary with `args` (plus --listen on a free port) and waits
  // until its overall health is SERVING. `credentials` are for the health
  // probe and channel() when the service serves TLS (default: plaintext).
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      const std::string& name, const std::vector<std::string>& args,
      const std::vector<std::string>& env = {}, absl::Duration timeout = absl::Seconds(30),
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  // As Start, on `port`: for services that must know each other's address
  // before either runs, and for restarting one where it was.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> StartOnPort(
      int port, const std::string& name, const std::vector<std::string>& args,
      const std::vector<std::string>& env = {}, absl::Duration timeout = absl::Seconds(30),
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  ~ServiceProcess();

  std::string address() const;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // Sends `signal`, waits for exit and returns the exit code.
  int Stop(int signal);
  // Everything the process has logged so far.
  std::string Log() const;

 private:
  ServiceProcess(pid_t pid, int port, std::string log_path,
                 std::shared_ptr<grpc::ChannelCredentials> credentials);

  pid_t pid_;
  const int port_;
  const std::string log_path_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Calls grpc.health.v1.Health/Check; the status name ("SERVING", ...) or an error.
absl::StatusOr<std::string> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service = "");

}  // namespace crm::testing
