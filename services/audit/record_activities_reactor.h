#pragma once

// AuditService.RecordActivities: one long-lived ingest stream per producing
// service. Each request (a batch) is validated, stored in one transaction and
// answered with one ack per event, strictly in order; the next request is
// read only after the answer is written, so a slow database slows producers
// down instead of piling batches up in memory.

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "services/audit/audit_service_deps.h"

namespace crm::audit {

class RecordActivitiesReactor final
    : public grpc::ServerBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse> {
 public:
  RecordActivitiesReactor(grpc::CallbackServerContext* context, const AuditServiceDeps& deps);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  void Authenticate();
  void Store();
  // Reads the next batch, or finishes if the server is shutting down.
  void ReadNext();
  void OnShutdown();
  // Marks the call finished with `status`; true when the caller must now call
  // Finish(status) (after releasing mu_), false when it is already finished
  // or a shutdown wake-up in flight will do it.
  bool ClaimFinish(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishNow(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void Submit(void (RecordActivitiesReactor::*step)());

  grpc::CallbackServerContext* const context_;
  const AuditServiceDeps deps_;
  v1::RecordActivitiesRequest request_;
  v1::RecordActivitiesResponse response_;

  absl::Mutex mu_;
  uint64_t shutdown_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::audit
