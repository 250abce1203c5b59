#include "services/notifications/feed_consumer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "common/users/user_directory.h"

namespace crm::notifications {
namespace {

constexpr absl::Duration kLagReportEvery = absl::Seconds(10);

FeedEvent FromActivity(const audit::v1::Activity& a) {
  return FeedEvent{.seq = a.seq(),
                   .event_id = a.event_id(),
                   .actor_id = a.user_id(),
                   .action = a.action(),
                   .service = a.service(),
                   .entity_type = a.entity_type(),
                   .entity_id = a.entity_id(),
                   .details_json = a.details_json()};
}

// Worth retrying as it is: anything but an error in the data itself (the
// database or auth away or busy, a permission not granted yet: fixed by
// someone, then it goes on). Data errors are isolated and skipped instead.
bool Passing(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kAlreadyExists:
      return false;
    default:
      return true;
  }
}

}  // namespace

FeedConsumer::FeedConsumer(FeedConsumerOptions options)
    : options_(std::move(options)),
      stub_(audit::v1::AuditService::NewStub(options_.audit_channel)) {}

FeedConsumer::~FeedConsumer() { Stop(); }

void FeedConsumer::Start() {
  reader_ = std::thread([this] { ReadLoop(); });
  processor_ = std::thread([this] { ProcessLoop(); });
}

void FeedConsumer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (stream_context_ != nullptr) {
      stream_context_->TryCancel();
    }
  }
  if (reader_.joinable()) {
    reader_.join();
  }
  if (processor_.joinable()) {
    processor_.join();
  }
}

bool FeedConsumer::Pause(absl::Duration& backoff) {
  absl::MutexLock lock(&mu_);
  const absl::Time until = absl::Now() + backoff;
  backoff = std::min(backoff * 2, options_.max_backoff);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithDeadline(absl::Condition(&stopping), until);
  return !stopping_;
}

void FeedConsumer::ReadLoop() {
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        return;
      }
    }
    const absl::Time started = absl::Now();
    const absl::Status ended = Follow();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        return;
      }
      state_ = "retrying";
    }
    if (absl::Now() - started > absl::Seconds(30)) {
      backoff = options_.min_backoff;
    }
    // A token past its lifetime ends every stream: reopen at once.
    if (ended.code() == absl::StatusCode::kUnauthenticated &&
        absl::Now() - started > absl::Seconds(30)) {
      continue;
    }
    log::Warning("activity feed interrupted; reconnecting")
        .Str("error", ended.ToString())
        .Int("backoff_ms", absl::ToInt64Milliseconds(backoff));
    if (!Pause(backoff)) {
      return;
    }
  }
}

absl::Status FeedConsumer::Follow() {
  int64_t from = 0;
  {
    absl::MutexLock lock(&mu_);
    from = next_seq_;
  }
  if (from == 0) {
    absl::StatusOr<int64_t> cursor = options_.notifications->Cursor(options_.feed);
    if (!cursor.ok()) {
      return cursor.status();
    }
    absl::MutexLock lock(&mu_);
    cursor_ = *cursor;
    next_seq_ = from = *cursor + 1;
  }
  grpc::ClientContext context;
  if (absl::Status s = options_.authorize(context); !s.ok()) {
    return s;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return absl::CancelledError("stopping");
    }
    stream_context_ = &context;
    state_ = "following";
  }
  audit::v1::WatchActivitiesRequest request;
  request.set_from_seq(from);
  for (std::string& action : RuleActions()) {
    request.mutable_filter()->add_actions(std::move(action));
  }
  std::unique_ptr<grpc::ClientReader<audit::v1::WatchActivitiesResponse>> reader =
      stub_->WatchActivities(&context, request);
  audit::v1::WatchActivitiesResponse response;
  // Queues `event` once there is room (a full queue stops reading; audit
  // then sends at our pace); false when stopping.
  auto enqueue = [this](FeedEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || queue_.size() < options_.max_queued;
    };
    mu_.Await(absl::Condition(&room));
    if (stopping_) {
      return false;
    }
    next_seq_ = event.seq + 1;
    queue_.push_back(std::move(event));
    return true;
  };
  while (reader->Read(&response)) {
    absl::MutexLock lock(&mu_);
    head_seq_ = std::max(head_seq_, response.head_seq());
    if (response.has_activity() && response.activity().seq() >= next_seq_) {
      head_seq_ = std::max(head_seq_, response.activity().seq());
      if (!enqueue(FromActivity(response.activity()))) {
        break;
      }
    }
    // Audit has read up to head_seq for us (what it did not send matched no
    // rule): a mark with no action moves the stored cursor there too, so
    // neither the lag nor a restart's replay counts what was never wanted.
    if (response.head_seq() >= next_seq_) {
      FeedEvent mark;
      mark.seq = response.head_seq();
      if (!enqueue(std::move(mark))) {
        break;
      }
    }
  }
  const grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  stream_context_ = nullptr;
  return FromGrpcStatus(status);
}

void FeedConsumer::ProcessLoop() {
  while (true) {
    std::vector<FeedEvent> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) {
        return;
      }
      const size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!StoreRetrying(batch)) {
      return;
    }
    ReportLag();
  }
}

bool FeedConsumer::StoreRetrying(const std::vector<FeedEvent>& events) {
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    const absl::Status stored = Store(events);
    if (stored.ok()) {
      return true;
    }
    if (Passing(stored)) {
      log::Warning("storing notifications failed; retrying")
          .Str("error", stored.ToString())
          .Int("backoff_ms", absl::ToInt64Milliseconds(backoff));
      if (!Pause(backoff)) {
        return false;
      }
      continue;
    }
    if (events.size() > 1) {  // find the event at fault: one at a time
      for (const FeedEvent& event : events) {
        if (!StoreRetrying({event})) {
          return false;
        }
      }
      return true;
    }
    const FeedEvent& event = events.front();
    log::Error("activity skipped: its notifications cannot be stored")
        .Int("seq", event.seq)
        .Str("action", event.action)
        .Str("error", stored.ToString());
    // The cursor moves past it (if this fails, the next event's store moves it).
    (void)options_.notifications->StoreFeedBatch(options_.feed, event.seq, {});
    absl::MutexLock lock(&mu_);
    ++skipped_;
    return true;
  }
}

absl::Status FeedConsumer::Notifications(const FeedEvent& event,
                                         std::vector<FeedNotification>& out) {
  for (const Draft& draft : DraftsFor(event)) {
    std::vector<int64_t> recipients;
    if (draft.audience == Audience::kActiveAdmins) {
      absl::StatusOr<std::vector<users::DirectoryUser>> admins =
          options_.directory->ActiveUsers(auth::Role::kAdmin);
      if (!admins.ok()) {
        return admins.status();
      }
      for (const users::DirectoryUser& admin : *admins) {
        if (admin.id != draft.exclude_user_id) {
          recipients.push_back(admin.id);
        }
      }
    } else {
      absl::StatusOr<users::DirectoryUser> user = options_.directory->Get(draft.recipient_id);
      if (absl::IsNotFound(user.status())) {
        continue;  // no such user (any more): nobody to tell
      }
      if (!user.ok()) {
        return user.status();
      }
      if (user->active) {
        recipients.push_back(user->id);
      }
    }
    for (int64_t recipient : recipients) {
      out.push_back(FeedNotification{.seq = event.seq,
                                     .notification = {.recipient_id = recipient,
                                                      .kind = draft.kind,
                                                      .title = draft.title,
                                                      .message = draft.message,
                                                      .entity_type = draft.entity_type,
                                                      .entity_id = draft.entity_id,
                                                      .source_event_id = event.event_id}});
    }
  }
  return absl::OkStatus();
}

absl::Status FeedConsumer::Store(const std::vector<FeedEvent>& events) {
  std::vector<FeedNotification> notifications;
  for (const FeedEvent& event : events) {
    if (absl::Status s = Notifications(event, notifications); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<NotificationRepository::Stored> stored =
      options_.notifications->StoreFeedBatch(options_.feed, events.back().seq, notifications);
  if (!stored.ok()) {
    return stored.status();
  }
  absl::MutexLock lock(&mu_);
  cursor_ = stored->cursor;
  created_ += stored->created;
  return absl::OkStatus();
}

void FeedConsumer::ReportLag() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - last_lag_report_ < kLagReportEvery) {
    return;
  }
  last_lag_report_ = now;
  const int64_t lag = std::max<int64_t>(0, head_seq_ - cursor_);
  if (lag > 0) {
    log::Info("activity feed behind")
        .Int("cursor", cursor_)
        .Int("head_seq", head_seq_)
        .Int("lag", lag);
  }
}

std::string FeedConsumer::HealthJson() {
  absl::MutexLock lock(&mu_);
  return nlohmann::json{{"state", state_},       {"cursor", cursor_},
                        {"head_seq", head_seq_}, {"lag", std::max<int64_t>(0, head_seq_ - cursor_)},
                        {"created", created_},   {"skipped_events", skipped_}}
      .dump();
}

}  // namespace crm::notifications
