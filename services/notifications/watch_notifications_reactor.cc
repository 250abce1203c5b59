#include "services/notifications/watch_notifications_reactor.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/notifications/notification_proto.h"

namespace crm::notifications {
namespace {

std::string ResumeHint(int64_t last_sent_id) {
  return absl::StrCat("resume with after_id=", last_sent_id);
}

}  // namespace

WatchNotificationsReactor::WatchNotificationsReactor(grpc::CallbackServerContext* context,
                                                     const v1::WatchNotificationsRequest& request,
                                                     const NotificationServiceDeps& deps)
    : context_(context), after_id_(request.after_id()), deps_(deps) {
  // A token already verified costs no thread hop: a watch from now then
  // starts here, with no query at all.
  std::optional<absl::StatusOr<auth::Caller>> caller =
      deps_.authenticator->TryAuthenticate(*context);
  if (caller.has_value()) {
    Begin(*std::move(caller));
    return;
  }
  absl::MutexLock lock(&mu_);
  SubmitLocked(&WatchNotificationsReactor::Start);
}

int64_t WatchNotificationsReactor::ResumeIdLocked() const {
  // A write in flight when the stream ends still reaches the client.
  return writing_ && writing_id_ > 0 ? writing_id_ : last_sent_id_;
}

void WatchNotificationsReactor::SubmitLocked(void (WatchNotificationsReactor::*step)()) {
  ++tasks_;
  const bool queued = deps_.executor->TrySubmit([this, step] {
    (this->*step)();
    absl::MutexLock lock(&mu_);
    --tasks_;  // OnDone waits for this; nothing touches `this` after it
  });
  if (!queued) {
    --tasks_;
    FinishLocked(ToGrpcStatus(
        WithRetryDelay(absl::ResourceExhaustedError("server busy"), absl::Milliseconds(200))));
  }
}

void WatchNotificationsReactor::Start() { Begin(deps_.authenticator->Authenticate(*context_)); }

void WatchNotificationsReactor::Begin(absl::StatusOr<auth::Caller> caller) {
  absl::Status status =
      caller.ok() ? auth::RequireRole(*caller,
                                      {auth::Role::kAdmin, auth::Role::kAgent, auth::Role::kClient})
                  : caller.status();
  if (status.ok() && after_id_ < 0) {
    status = InvalidArgumentError("after_id", "must not be negative");
  }
  {
    absl::MutexLock lock(&mu_);
    if (finished_) {
      return;
    }
    if (!status.ok()) {
      FinishLocked(ToGrpcStatus(status));
      return;
    }
    caller_ = *caller;
    // A watch from now is live as soon as it is registered; one resuming
    // after an id reads first, and deliveries meanwhile are only counted.
    mode_ = after_id_ == 0 ? Mode::kLive : Mode::kReading;
    last_id_ = after_id_;
    last_sent_id_ = after_id_;
  }
  const absl::Status added = deps_.hub->Add(caller->user_id, this);
  absl::MutexLock lock(&mu_);
  if (!added.ok()) {
    FinishLocked(ToGrpcStatus(added));
    return;
  }
  registered_ = true;
  if (finished_) {
    return;
  }
  if (mode_ == Mode::kLive) {
    GoLiveLocked();
  } else {
    SubmitLocked(&WatchNotificationsReactor::Read);
  }
}

void WatchNotificationsReactor::Read() {
  int64_t recipient = 0;
  int64_t from = 0;
  uint64_t seen = 0;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) {
      return;
    }
    recipient = caller_.user_id;
    from = last_id_;
    seen = deliveries_;
  }
  absl::StatusOr<std::vector<NotificationRecord>> rows =
      deps_.notifications->After(recipient, from, kReplayPage);
  absl::MutexLock lock(&mu_);
  if (finished_) {
    return;
  }
  if (!rows.ok()) {
    FinishLocked(ToGrpcStatus(rows.status()));
    return;
  }
  for (const NotificationRecord& row : *rows) {
    EnqueueLocked(row);
  }
  if (static_cast<int>(rows->size()) == kReplayPage) {
    if (queue_.empty() && !writing_) {
      SubmitLocked(&WatchNotificationsReactor::Read);  // nothing new in the page: read on
    } else {
      more_to_read_ = true;  // the next page once this one is written
    }
  } else if (deliveries_ != seen) {
    SubmitLocked(&WatchNotificationsReactor::Read);
  } else {
    GoLiveLocked();
  }
  WriteNextLocked();
}

void WatchNotificationsReactor::GoLiveLocked() {
  mode_ = Mode::kLive;
  if (!headers_sent_) {
    headers_sent_ = true;
    StartSendInitialMetadata();  // tells the client the stream is live
  }
}

void WatchNotificationsReactor::EnqueueLocked(const NotificationRecord& notification) {
  if (notification.id <= last_id_) {
    return;
  }
  last_id_ = notification.id;
  ToProto(notification, queue_.emplace_back().mutable_notification());
}

void WatchNotificationsReactor::WriteNextLocked() {
  if (writing_ || finished_ || queue_.empty()) {
    return;
  }
  writing_message_ = std::move(queue_.front());
  queue_.pop_front();
  writing_id_ = writing_message_.has_notification() ? writing_message_.notification().id() : 0;
  writing_ = true;
  headers_sent_ = true;
  last_write_ = absl::Now();
  StartWrite(&writing_message_);
}

void WatchNotificationsReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (ok && writing_id_ > 0) {
    last_sent_id_ = writing_id_;
  }
  if (finish_pending_) {
    finish_pending_ = false;
    Finish(final_status_);
    return;
  }
  if (finished_) {
    return;
  }
  if (!ok) {
    FinishLocked(grpc::Status::CANCELLED);  // the client went away
    return;
  }
  if (!queue_.empty()) {
    WriteNextLocked();
  } else if (more_to_read_) {
    more_to_read_ = false;
    SubmitLocked(&WatchNotificationsReactor::Read);
  }
}

void WatchNotificationsReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) {
    return;
  }
  finished_ = true;
  queue_.clear();
  if (writing_) {
    finish_pending_ = true;
    final_status_ = status;
    return;
  }
  Finish(status);
}

void WatchNotificationsReactor::Deliver(const NotificationRecord& notification) {
  absl::MutexLock lock(&mu_);
  if (finished_) {
    return;
  }
  if (mode_ != Mode::kLive) {
    ++deliveries_;  // the read under way may have missed it: read again
    return;
  }
  if (notification.id <= last_id_) {
    return;
  }
  if (queue_.size() >= kMaxBacklog) {
    FinishLocked(
        ToGrpcStatus(WithRetryDelay(absl::ResourceExhaustedError(absl::StrCat(
                                        "the stream fell too far behind (", kMaxBacklog,
                                        " notifications unsent); ", ResumeHint(ResumeIdLocked()))),
                                    absl::Seconds(1))));
    return;
  }
  EnqueueLocked(notification);
  WriteNextLocked();
}

void WatchNotificationsReactor::Tick(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (finished_ || mode_ == Mode::kStarting) {
    return;
  }
  if (absl::Status s = auth::RequireUnexpired(caller_, now); !s.ok()) {
    FinishLocked(ToGrpcStatus(absl::UnauthenticatedError(
        absl::StrCat(s.message(), "; ", ResumeHint(ResumeIdLocked()), " and a fresh token"))));
    return;
  }
  if (mode_ == Mode::kLive && !writing_ && queue_.empty() && now - last_write_ >= deps_.heartbeat) {
    timestamp::ToProto(now, queue_.emplace_back().mutable_heartbeat_time());
    WriteNextLocked();
  }
}

void WatchNotificationsReactor::Resync() {
  absl::MutexLock lock(&mu_);
  if (finished_) {
    return;
  }
  if (mode_ == Mode::kLive) {
    mode_ = Mode::kReading;
    SubmitLocked(&WatchNotificationsReactor::Read);
  } else {
    ++deliveries_;
  }
}

void WatchNotificationsReactor::Shutdown() {
  absl::MutexLock lock(&mu_);
  FinishLocked(ToGrpcStatus(WithRetryDelay(
      absl::UnavailableError(absl::StrCat("server shutting down; ", ResumeHint(ResumeIdLocked()))),
      absl::Seconds(1))));
}

void WatchNotificationsReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

void WatchNotificationsReactor::OnDone() {
  bool registered = false;
  int64_t recipient = 0;
  {
    absl::MutexLock lock(&mu_);
    registered = registered_;
    recipient = caller_.user_id;
  }
  if (registered) {
    deps_.hub->Remove(recipient, this);  // no hub call reaches us after this
  }
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* tasks) { return *tasks == 0; }, &tasks_));
  }
  delete this;
}

}  // namespace crm::notifications
