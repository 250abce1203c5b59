#include "common/server/health_service.h"

#include <optional>

namespace crm::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One open Watch stream. Writes are one at a time; a status that changes
// while a write is in flight is sent when it completes (only the newest).
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service)
      : owner_(owner), service_(std::move(service)) {}

  const std::string& service() const { return service_; }

  // Called with owner_->mu_ held.
  void Push(ServingStatus status, bool last) {
    absl::MutexLock lock(&mu_);
    if (done_) {
      return;
    }
    pending_ = status;
    finish_after_write_ = finish_after_write_ || last;
    MaybeWrite();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    MaybeWrite();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    owner_->Unregister(this);
    delete this;
  }

 private:
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || done_) {
      return;
    }
    if (pending_.has_value() && pending_ != last_sent_) {
      response_.set_status(*pending_);
      last_sent_ = pending_;
      pending_.reset();
      writing_ = true;
      StartWrite(&response_);
      return;
    }
    if (finish_after_write_) {
      FinishOnce(grpc::Status::OK);
    }
  }

  void FinishOnce(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!done_) {
      done_ = true;
      Finish(status);
    }
  }

  HealthService* const owner_;
  const std::string service_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> last_sent_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_write_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::~HealthService() = default;

void HealthService::SetStatus(const std::string& service, ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return;
  }
  statuses_[service] = status;
  for (Watcher* watcher : watchers_) {
    if (watcher->service() == service) {
      watcher->Push(status, /*last=*/false);
    }
  }
}

void HealthService::SetAll(ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return;
  }
  statuses_[""] = status;
  for (auto& [service, current] : statuses_) {
    current = status;
  }
  for (Watcher* watcher : watchers_) {
    watcher->Push(status, /*last=*/false);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [service, current] : statuses_) {
    current = HealthCheckResponse::NOT_SERVING;
  }
  for (Watcher* watcher : watchers_) {
    watcher->Push(HealthCheckResponse::NOT_SERVING, /*last=*/true);
  }
}

void HealthService::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(request->service());
  if (it == statuses_.end()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
    return reactor;
  }
  response->set_status(it->second);
  if (!details_.empty()) {
    context->AddTrailingMetadata("crm-health-details", details_);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void HealthService::SetDetails(std::string json) {
  absl::MutexLock lock(&mu_);
  details_ = std::move(json);
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  // Per the health protocol, an unknown service is SERVICE_UNKNOWN on Watch,
  // and the stream stays open in case it appears.
  auto it = statuses_.find(request->service());
  const ServingStatus status =
      it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
  watcher->Push(status, /*last=*/shut_down_);
  return watcher;
}

}  // namespace crm::server
