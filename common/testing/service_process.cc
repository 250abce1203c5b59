#include "common/testing/service_process.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files/read_file.h"
#include "common/testing/subprocess.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace crm::testing {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

// The harness polls a server that is still starting: keep gRPC's reconnect
// back-off short, or the first successful call comes seconds late.
std::shared_ptr<grpc::Channel> CreateTestChannel(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  // Subchannels (and their back-off) are otherwise shared process-wide.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(
      address, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(), args);
}

}  // namespace

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

ServiceProcess::ServiceProcess(pid_t pid, int port, std::string log_path,
                               std::shared_ptr<grpc::ChannelCredentials> credentials)
    : pid_(pid),
      port_(port),
      log_path_(std::move(log_path)),
      channel_(CreateTestChannel(address(), credentials)) {}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::string& name, const std::vector<std::string>& args,
    const std::vector<std::string>& env, absl::Duration timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return StartOnPort(FreePort(), name, args, env, timeout, std::move(credentials));
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::StartOnPort(
    int port, const std::string& name, const std::vector<std::string>& args,
    const std::vector<std::string>& env, absl::Duration timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  std::vector<std::string> argv = {absl::StrCat(CRM_BIN_DIR, "/crm-", name),
                                   absl::StrCat("--listen=127.0.0.1:", port)};
  argv.insert(argv.end(), args.begin(), args.end());
  // One file per process started, removed with it: a path another run could
  // reuse (the same port later) would hand a test that run's lines too.
  static std::atomic<int> started{0};
  const std::string log_path =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-", name, "-", port, "-",
                   getpid(), "-", ++started, ".log");
  std::error_code ignored;
  std::filesystem::remove(log_path, ignored);
  absl::StatusOr<pid_t> pid = SpawnProcess(argv, env, log_path);
  if (!pid.ok()) {
    return pid.status();
  }
  std::unique_ptr<ServiceProcess> process(new ServiceProcess(*pid, port, log_path, credentials));
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> health;
  while (absl::Now() < deadline) {
    // A fresh channel per probe: one that failed while the server was still
    // starting would wait out its reconnect back-off.
    health = CheckHealth(CreateTestChannel(process->address(), credentials));
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
  std::error_code ignored;
  std::filesystem::remove(log_path_, ignored);
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

int ServiceProcess::Stop(int signal) {
  const int code = StopProcess(pid_, signal, absl::Seconds(20));
  pid_ = -1;
  return code;
}

std::string ServiceProcess::Log() const { return ReadFileToString(log_path_).value_or(""); }

}  // namespace crm::testing
