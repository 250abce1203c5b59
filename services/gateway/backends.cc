#include "services/gateway/backends.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/client/channel.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::gateway {
namespace {

// The contract's service files, named so the linker keeps them (and their
// descriptors register): the gateway looks methods up by name.
void LinkContract() {
  (void)auth::v1::AuthService::service_full_name();
  (void)auth::v1::LoginRequest::descriptor();
  (void)auth::v1::GetUserRequest::descriptor();
  (void)leads::v1::GetLeadRequest::descriptor();
  (void)properties::v1::GetPropertyRequest::descriptor();
  (void)notifications::v1::ListNotificationsRequest::descriptor();
  (void)audit::v1::ListActivitiesRequest::descriptor();
}

std::shared_ptr<grpc::Channel> LongLivedChannel(const std::string& address,
                                                const client::ClientTlsOptions& tls) {
  grpc::ChannelArguments args;
  // Pings while calls are open find a dead backend (or a middlebox that
  // dropped the connection) under a long stream; the services accept one a
  // minute.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  return client::CreateServiceChannel(address, tls, args);
}

}  // namespace

Backends::Backends(const std::map<std::string, std::string>& addresses,
                   const client::ClientTlsOptions& tls) {
  LinkContract();
  for (const auto& [name, address] : addresses) {
    auto backend = std::make_unique<Backend>();
    backend->name = name;
    backend->address = address;
    backend->channel = LongLivedChannel(address, tls);
    backend->stub = std::make_unique<WebStub>(backend->channel);
    backends_[name] = std::move(backend);
  }
}

Backends::~Backends() {
  stop_.Notify();
  if (health_thread_.joinable()) {
    health_thread_.join();
  }
}

Backend* Backends::Find(const std::string& name) {
  auto it = backends_.find(name);
  return it == backends_.end() ? nullptr : it->second.get();
}

absl::StatusOr<Route> Backends::Resolve(absl::string_view path) {
  // "/crm.leads.v1.LeadService/ListLeads"
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() != 3 || !parts[0].empty() || parts[1].empty() || parts[2].empty()) {
    return absl::UnimplementedError(
        absl::StrCat("no such method: ", path, " (paths are /<package>.<Service>/<Method>)"));
  }
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrCat(parts[1], ".", parts[2]));
  if (method == nullptr) {
    return absl::UnimplementedError(absl::StrCat("unknown method ", parts[1], "/", parts[2]));
  }
  if (method->client_streaming()) {
    return absl::UnimplementedError(
        absl::StrCat(parts[1], "/", parts[2],
                     " streams from the client, which gRPC-web cannot carry: call it over gRPC"));
  }
  // crm.<backend>.v1
  std::vector<std::string> package = absl::StrSplit(method->service()->file()->package(), '.');
  Backend* backend = package.size() == 3 && package[0] == "crm" ? Find(package[1]) : nullptr;
  if (backend == nullptr) {
    return absl::UnimplementedError(absl::StrCat("no backend serves ", parts[1]));
  }
  return Route{.backend = backend,
               .method = std::string(path),
               .server_streaming = method->server_streaming()};
}

void Backends::StartHealthChecks(absl::Duration interval) {
  health_thread_ = std::thread([this, interval] {
    do {
      PollHealth();
    } while (!stop_.WaitForNotificationWithTimeout(interval));
  });
}

void Backends::PollHealth() {
  std::vector<std::string> unhealthy;
  for (const auto& [name, backend] : backends_) {
    auto stub = grpc::health::v1::Health::NewStub(backend->channel);
    grpc::ClientContext context;
    context.set_deadline(client::DeadlineAfter(absl::Seconds(2)));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) {
      unhealthy.push_back(absl::StrCat(name, ": ", status.error_message()));
    } else if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      unhealthy.push_back(absl::StrCat(
          name, ": ",
          grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
    }
  }
  absl::MutexLock lock(&mu_);
  unhealthy_ = std::move(unhealthy);
}

std::vector<std::string> Backends::Unhealthy() {
  absl::MutexLock lock(&mu_);
  return unhealthy_;
}

}  // namespace crm::gateway
