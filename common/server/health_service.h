#pragma once

// grpc.health.v1.Health, implemented with the callback API and compiled from
// the standard health.proto, so reflection clients (buf curl, grpcurl) and
// Kubernetes' native gRPC probes can call it. The service name "" stands for
// the whole server; each registered service also has its own entry.

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace crm::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;
  ~HealthService() override;

  // Sets one service's status ("" is the server as a whole) and pushes it to
  // its watchers.
  void SetStatus(const std::string& service, ServingStatus status);

  // Sets every known service, "" included.
  void SetAll(ServingStatus status);

  // A JSON object describing the server's state (its dependencies, its
  // outbox), sent with every Check as the trailing metadata
  // `crm-health-details`, so `grpcurl -v` or `buf curl -v` shows an operator
  // why a replica is NOT_SERVING or what its relay holds back. Standard
  // clients ignore it.
  void SetDetails(std::string json);

  // Marks everything NOT_SERVING, for good, and ends open Watch streams so
  // they do not hold up the server's shutdown.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;

  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;

  void Unregister(Watcher* watcher);

  absl::Mutex mu_;
  std::map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::string details_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::server
