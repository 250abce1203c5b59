#pragma once

// AuditService.RecordActivities: one long-lived ingest stream per producing
// service. Each request (a batch) is validated, stored in one transaction and
// answered with one ack per event, strictly in order; the next request is
// read only after the answer is written, so a slow database slows producers
// down instead of piling batches up in memory. A service may only submit
// events in its own name: the token's service and each event's must match.

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/auth/caller.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "services/audit/audit_service_deps.h"
#include "services/audit/feed_stream.h"

namespace crm::audit {

class RecordActivitiesReactor final
    : public FeedStream<
          grpc::ServerBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse>> {
 public:
  RecordActivitiesReactor(grpc::CallbackServerContext* context, const AuditServiceDeps& deps);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;

 private:
  void Authenticate();
  void Store();
  // Reads the next batch, or finishes if the server is shutting down.
  void ReadNext();
  void OnShutdown();

  grpc::CallbackServerContext* const context_;
  auth::Caller caller_;  // set by Start: events must name its service
  v1::RecordActivitiesRequest request_;
  v1::RecordActivitiesResponse response_;

  // ticket_ (FeedStream) is the shutdown-only subscription, held all along.
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace crm::audit
