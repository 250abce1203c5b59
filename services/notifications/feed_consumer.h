#pragma once

// Follows audit's activity feed (AuditService.WatchActivities, as this
// service's account) and turns events into notifications through the rules
// (rules.h). The cursor — the last seq handled — lives in this service's
// database and moves in the same transaction as the notifications made from
// the events up to it, so a crash or restart of either side resumes with
// nothing missed and nothing repeated (the unique (source_event_id,
// recipient_id) index is the second guard).
//
// Two threads: one reads the stream into a bounded queue (a full queue
// stops reading, and audit sends at our pace), one stores what is queued as
// one transaction per batch. A batch that fails for a passing reason
// (database or auth unavailable) is retried with back-off, never skipped;
// one that fails on its data is retried event by event, and an event that
// still fails is logged and skipped, so a poison event cannot stall the feed.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/notifications/notification_repository.h"
#include "services/notifications/rules.h"

namespace crm::users {
class UserDirectory;
}  // namespace crm::users

namespace crm::notifications {

struct FeedConsumerOptions {
  std::shared_ptr<grpc::Channel> audit_channel;
  // Attaches the service account's token (ServiceCredentials::Attach).
  absl::AnyInvocable<absl::Status(grpc::ClientContext&)> authorize;
  NotificationRepository* notifications = nullptr;
  users::UserDirectory* directory = nullptr;
  std::string feed = "audit";
  size_t max_batch = 500;
  size_t max_queued = 5000;
  absl::Duration min_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

class FeedConsumer {
 public:
  explicit FeedConsumer(FeedConsumerOptions options);
  FeedConsumer(const FeedConsumer&) = delete;
  FeedConsumer& operator=(const FeedConsumer&) = delete;
  ~FeedConsumer();

  void Start();
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // {"state": "following"|"connecting"|"retrying", "cursor": N, "head_seq": M, "lag": M-N,
  //  "created": K, "skipped_events": S}
  std::string HealthJson() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ReadLoop();
  // One stream from `next_seq_`; returns how it ended.
  absl::Status Follow();
  void ProcessLoop();
  // The notifications of `events` and the cursor moved past them.
  absl::Status Store(const std::vector<FeedEvent>& events);
  // Store(), retried while it fails for a passing reason; a data failure of
  // several events is narrowed down one event at a time, and an event that
  // fails alone is logged, counted and skipped. False when stopping.
  bool StoreRetrying(const std::vector<FeedEvent>& events);
  absl::Status Notifications(const FeedEvent& event, std::vector<FeedNotification>& out);
  // Waits `backoff` (or until Stop) and doubles it; false when stopping.
  bool Pause(absl::Duration& backoff);
  void ReportLag() ABSL_LOCKS_EXCLUDED(mu_);

  FeedConsumerOptions options_;
  std::unique_ptr<audit::v1::AuditService::Stub> stub_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* stream_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<FeedEvent> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;  // the next seq to ask for; 0: from the cursor
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t head_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t created_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
  std::string state_ ABSL_GUARDED_BY(mu_) = "connecting";
  absl::Time last_lag_report_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::thread reader_;
  std::thread processor_;
};

}  // namespace crm::notifications
