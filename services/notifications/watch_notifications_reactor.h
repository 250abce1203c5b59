#pragma once

// NotificationService.WatchNotifications: the caller's notifications after
// after_id first (read from the database, a page at a time), then live ones
// as the hub delivers them, with no gap and no duplicate at the switch. A
// watch from now (after_id 0) is live once registered: no query at all, and
// no thread hop when the token was verified before.
//
// While it reads the database, deliveries are only counted; when a read
// comes back short and nothing was delivered since it began, the stream goes
// live (under one lock, so nothing slips between). A delivery counted during
// the read means another read. One recipient's notifications commit in id
// order (the repository's per-recipient lock), so "id > the last one sent"
// is the whole rule. The response headers go out once the stream is live.
// A live stream holds at most kMaxBacklog messages for a slow reader, then
// ends RESOURCE_EXHAUSTED naming the after_id to resume with.

#include <cstdint>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "services/notifications/notification_hub.h"
#include "services/notifications/notification_service_deps.h"

namespace crm::notifications {

class WatchNotificationsReactor final
    : public grpc::ServerWriteReactor<v1::WatchNotificationsResponse>,
      public NotificationHub::Watcher {
 public:
  static constexpr int kReplayPage = 100;
  static constexpr size_t kMaxBacklog = 256;

  WatchNotificationsReactor(grpc::CallbackServerContext* context,
                            const v1::WatchNotificationsRequest& request,
                            const NotificationServiceDeps& deps);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void Deliver(const NotificationRecord& notification) override;
  void Tick(absl::Time now) override;
  void Resync() override;
  void Shutdown() override;

 private:
  enum class Mode { kStarting, kReading, kLive };

  // On the executor: authenticates (a token not verified before), then Begin.
  void Start();
  // Checks the caller, registers with the hub, then goes live (a watch from
  // now) or reads first.
  void Begin(absl::StatusOr<auth::Caller> caller);
  // On the executor: one page of the database after last_id_.
  void Read();
  // Runs `step` on the executor, counted in tasks_ so OnDone waits for it.
  void SubmitLocked(void (WatchNotificationsReactor::*step)()) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(const NotificationRecord& notification) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GoLiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The after_id a client resumes with: the newest id it has or will get.
  int64_t ResumeIdLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  const int64_t after_id_;
  const NotificationServiceDeps deps_;

  absl::Mutex mu_;
  auth::Caller caller_ ABSL_GUARDED_BY(mu_);
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kStarting;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;        // the newest id queued or sent
  int64_t last_sent_id_ ABSL_GUARDED_BY(mu_) = 0;   // the newest id written
  uint64_t deliveries_ ABSL_GUARDED_BY(mu_) = 0;    // counted while reading
  bool more_to_read_ ABSL_GUARDED_BY(mu_) = false;  // a full page: read on once written
  std::deque<v1::WatchNotificationsResponse> queue_ ABSL_GUARDED_BY(mu_);
  int64_t writing_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;  // Finish waits for the write in flight
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int tasks_ ABSL_GUARDED_BY(mu_) = 0;  // steps queued or running on the executor
  bool headers_sent_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::Now();
  v1::WatchNotificationsResponse writing_message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::notifications
