#include "common/testing/service_process.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/subprocess.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace crm::testing {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

absl::StatusOr<std::string> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return HealthCheckResponse::ServingStatus_Name(response.status());
}

ServiceProcess::ServiceProcess(pid_t pid, int port, std::string log_path)
    : pid_(pid),
      port_(port),
      log_path_(std::move(log_path)),
      channel_(grpc::CreateChannel(address(), grpc::InsecureChannelCredentials())) {}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::string& name, const std::vector<std::string>& args,
    const std::vector<std::string>& env, absl::Duration timeout) {
  const int port = FreePort();
  std::vector<std::string> argv = {absl::StrCat(CRM_BIN_DIR, "/crm-", name),
                                   absl::StrCat("--listen=127.0.0.1:", port)};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log_path = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                            "/crm-", name, "-", port, ".log");
  absl::StatusOr<pid_t> pid = SpawnProcess(argv, env, log_path);
  if (!pid.ok()) {
    return pid.status();
  }
  std::unique_ptr<ServiceProcess> process(new ServiceProcess(*pid, port, log_path));
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> health;
  while (absl::Now() < deadline) {
    health = CheckHealth(process->channel_);
    if (health.ok() && *health == "SERVING") {
      return process;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "crm-", name, " did not become SERVING (", health.ok() ? *health : health.status().ToString(),
      "); log:\n", process->Log()));
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) {
    Stop(SIGTERM);
  }
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

int ServiceProcess::Stop(int signal) {
  const int code = StopProcess(pid_, signal, absl::Seconds(20));
  pid_ = -1;
  return code;
}

std::string ServiceProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace crm::testing
