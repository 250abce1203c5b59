#pragma once

// What audit's two streaming reactors (ingest and live feed) share: running
// their steps on the blocking executor, and finishing exactly once even when
// an ActivityFeed wake-up races with the stream's own end.
//
// The rule: whoever ends the stream claims the finish under mu_. If a feed
// subscription is pending, the claimer removes it first; if it cannot (the
// wake-up is already running), the wake-up calls Finish with the claimed
// status instead (TakeClaimedFinish). Finish is always called outside mu_,
// and nothing touches the reactor after it.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status/grpc_status.h"
#include "grpcpp/support/server_callback.h"
#include "services/audit/audit_service_deps.h"

namespace crm::audit {

template <typename Base>  // grpc::ServerBidiReactor<...> or grpc::ServerWriteReactor<...>
class FeedStream : public Base {
 public:
  void OnDone() override {
    { absl::MutexLock lock(&mu_); }  // whoever called Finish has let go of mu_
    delete this;
  }

 protected:
  explicit FeedStream(const AuditServiceDeps& deps) : deps_(deps) {}

  static grpc::Status ShuttingDown() {
    return ToGrpcStatus(
        WithRetryDelay(absl::UnavailableError("server shutting down"), absl::Seconds(1)));
  }

  // Runs `step` of the derived reactor on the executor; a full queue ends the
  // stream with RESOURCE_EXHAUSTED.
  template <typename Derived>
  void Submit(void (Derived::*step)()) {
    auto* self = static_cast<Derived*>(this);
    if (!deps_.executor->TrySubmit([self, step] { (self->*step)(); })) {
      FinishNow(ToGrpcStatus(
          WithRetryDelay(absl::ResourceExhaustedError("server busy"), absl::Milliseconds(200))));
    }
  }

  // Marks the stream finished with `status`; true when the caller must now
  // call this->Finish(status) after releasing mu_.
  bool ClaimFinish(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) {
      return false;
    }
    finished_ = true;
    final_status_ = status;
    if (ticket_ != 0 && !deps_.feed->Unsubscribe(ticket_)) {
      return false;  // the wake-up is running; it finishes with final_status_
    }
    ticket_ = 0;
    return true;
  }

  void FinishNow(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      finish = ClaimFinish(status);
    }
    if (finish) {
      this->Finish(status);
    }
  }

  // First thing in a feed wake-up: the subscription is spent. True (with the
  // status) when a finish was claimed while the wake-up was on its way: the
  // wake-up must then call Finish.
  bool TakeClaimedFinish(grpc::Status* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ticket_ = 0;
    if (finished_) {
      *status = final_status_;
      return true;
    }
    return false;
  }

  const AuditServiceDeps deps_;
  absl::Mutex mu_;
  uint64_t ticket_ ABSL_GUARDED_BY(mu_) = 0;  // the pending ActivityFeed subscription
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

 private:
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::audit
