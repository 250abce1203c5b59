#include "common/server/runner.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/log/log.h"
#include "common/server/logging_interceptor.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace crm::server {

using grpc::health::v1::HealthCheckResponse;

namespace {

// Whether `listen` (host:port, [v6]:port or unix:path) stays on this host.
bool IsLoopback(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:")) {
    return true;
  }
  absl::string_view host(listen);
  if (const size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace

RunnerOptions RunnerOptions::FromFlags(const ServiceFlags& flags) {
  RunnerOptions options;
  options.service = flags.service;
  options.listen = flags.listen;
  options.drain = flags.drain;
  options.max_message_bytes = flags.max_message_bytes;
  options.reflection = flags.reflection;
  options.dependency_check_interval = flags.db_health_interval;
  options.tls = flags.tls;
  return options;
}

Runner::Runner(RunnerOptions options) : options_(std::move(options)) {}

Runner::~Runner() { Stop(); }

void Runner::AddService(grpc::Service* service, const std::string& full_name) {
  services_.emplace_back(service, full_name);
}

void Runner::AddDependency(std::string name, std::function<absl::Status()> check) {
  dependencies_.push_back(Dependency{.name = std::move(name), .check = std::move(check)});
}

absl::Status Runner::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options_.tls);
  if (!credentials.ok()) {
    return credentials.status();
  }
  if (options_.reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  grpc::ServerBuilder builder;
  // gRPC enables SO_REUSEPORT by default, which would let a second copy of a
  // service silently share the port; refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Long-lived clients (the gateway, other services' streams) ping every
  // minute to find dead connections under quiet streams; gRPC's default
  // would call pings closer than 5 minutes abuse and drop the connection.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 30 * 1000);
  if (options_.fixed_stream_window) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  }
  builder.AddListeningPort(options_.listen, *credentials, &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.RegisterService(&health_);
  for (const auto& [service, name] : services_) {
    builder.RegisterService(service);
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<LoggingInterceptorFactory>(&in_flight_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  // Health entries exist (NOT_SERVING) before the first request can arrive.
  health_.SetStatus("", HealthCheckResponse::NOT_SERVING);
  health_.SetStatus("grpc.health.v1.Health", HealthCheckResponse::NOT_SERVING);
  for (const auto& [service, name] : services_) {
    health_.SetStatus(name, HealthCheckResponse::NOT_SERVING);
  }

  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen, " (address in use or invalid?)"));
  }
  CheckDependencies();
  watcher_ = std::thread([this] { WatchDependencies(); });

  std::vector<std::string> names;
  for (const auto& [service, name] : services_) {
    names.push_back(name);
  }
  log::Info("serving")
      .Str("listen", options_.listen)
      .Int("port", port_)
      .Str("services", absl::StrJoin(names, ","))
      .Bool("reflection", options_.reflection)
      .Str("tls", options_.tls.Mode());
  if (!options_.tls.enabled() && !IsLoopback(options_.listen)) {
    log::Warning("plaintext gRPC on a non-loopback address; set --tls_cert_file and --tls_key_file")
        .Str("listen", options_.listen);
  }
  return absl::OkStatus();
}

void Runner::AddHealthDetail(std::string name, std::function<std::string()> value) {
  details_.emplace_back(std::move(name), std::move(value));
}

void Runner::CheckDependencies() {
  bool all_ok = true;
  nlohmann::json details = nlohmann::json::object();
  for (Dependency& dependency : dependencies_) {
    const absl::Status status = dependency.check();
    details["dependencies"][dependency.name] = status.ok() ? "ok" : status.ToString();
    if (status.ok() != dependency.ok) {
      (status.ok() ? log::Info("dependency up") : log::Warning("dependency down"))
          .Str("dependency", dependency.name)
          .Str("status", status.ToString());
    }
    dependency.ok = status.ok();
    all_ok = all_ok && status.ok();
  }
  for (const auto& [name, value] : details_) {
    nlohmann::json parsed = nlohmann::json::parse(value(), nullptr, /*allow_exceptions=*/false);
    details[name] = parsed.is_discarded() ? nlohmann::json("unreadable") : std::move(parsed);
  }
  health_.SetDetails(details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  health_.SetAll(all_ok ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
}

void Runner::WatchDependencies() {
  while (!stop_watching_.WaitForNotificationWithTimeout(options_.dependency_check_interval)) {
    CheckDependencies();
  }
}

void Runner::AddShutdownHook(std::function<void()> hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

void Runner::Stop() {
  if (server_ == nullptr || stopped_) {
    return;
  }
  stopped_ = true;
  log::Info("shutting down").Num("drain_seconds", absl::ToDoubleSeconds(options_.drain));
  stop_watching_.Notify();
  watcher_.join();
  health_.Shutdown();
  for (const std::function<void()>& hook : shutdown_hooks_) {
    hook();
  }
  // grpc::Server::Shutdown(deadline) also waits for idle client connections
  // (other services, the gateway) to go away, which they may never do; so
  // wait for the calls themselves, then shut down at once. Calls still
  // arriving meanwhile are served: load balancers see NOT_SERVING and stop
  // sending them.
  const absl::Time deadline = absl::Now() + options_.drain;
  while (in_flight_.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int cancelled = in_flight_.load();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  log::Info("stopped").Int("cancelled_rpcs", cancelled);
}

int Runner::Run() {
  if (absl::Status status = Start(); !status.ok()) {
    log::Error("start failed").Str("error", std::string(status.message()));
    return 1;
  }
  int signal_number = 0;
  while (signal_number == 0) {
    signal_number = WaitForTerminationSignal(absl::Seconds(1));
  }
  log::Info("signal received").Int("signal", signal_number);
  Stop();
  return 0;
}

}  // namespace crm::server
