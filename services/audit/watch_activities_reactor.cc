#include "services/audit/watch_activities_reactor.h"

#include <algorithm>

#include "common/auth/caller.h"
#include "common/status/grpc_status.h"
#include "services/audit/activity_proto.h"

namespace crm::audit {
namespace {

constexpr int kPageSize = 200;
// A message with only head_seq after this long without one, so clients and
// proxies can tell a quiet feed from a dead connection.
constexpr absl::Duration kKeepAlive = absl::Seconds(15);

}  // namespace

WatchActivitiesReactor::WatchActivitiesReactor(grpc::CallbackServerContext* context,
                                               const v1::WatchActivitiesRequest& request,
                                               const AuditServiceDeps& deps)
    : FeedStream(deps), context_(context), request_(request) {
  Submit(&WatchActivitiesReactor::Start);
}

void WatchActivitiesReactor::Start() {
  absl::StatusOr<auth::Caller> caller = deps_.authenticator->Authenticate(*context_);
  absl::Status status = caller.ok()
                            ? auth::RequireRole(*caller, {auth::Role::kAdmin, auth::Role::kService})
                            : caller.status();
  absl::StatusOr<ActivityFilter> filter = FilterFromProto(request_.filter(), "filter");
  if (status.ok() && !filter.ok()) {
    status = filter.status();
  }
  if (status.ok() && request_.from_seq() < 0) {
    status = InvalidArgumentError("from_seq", "must not be negative");
  }
  if (!status.ok()) {
    FinishNow(ToGrpcStatus(status));
    return;
  }
  caller_ = *std::move(caller);
  filter_ = *std::move(filter);
  cursor_ = request_.from_seq();
  sent_head_seq_ = cursor_ - 1;
  if (cursor_ == 0) {
    absl::StatusOr<int64_t> head = deps_.activities->HeadSeq();
    if (!head.ok()) {
      FinishNow(ToGrpcStatus(head.status()));
      return;
    }
    cursor_ = *head + 1;
    head_seq_ = *head;
    sent_head_seq_ = *head;
  }
  // The stream's headers tell the client the feed is open: from here on,
  // nothing stored is missed (a client of from_seq 0 may wait for them).
  this->StartSendInitialMetadata();
  Fetch();
}

void WatchActivitiesReactor::Fetch() {
  if (context_->IsCancelled()) {
    FinishNow(grpc::Status::CANCELLED);
    return;
  }
  if (deps_.feed->shutting_down()) {
    FinishNow(ShuttingDown());  // also ends a long replay
    return;
  }
  if (absl::Status s = auth::RequireUnexpired(caller_); !s.ok()) {
    FinishNow(ToGrpcStatus(s));  // the client resumes from its last seq + 1
    return;
  }
  seen_generation_ = deps_.feed->generation();  // before the read: see ActivityFeed
  absl::StatusOr<FeedPage> page = deps_.activities->ReadFeed(cursor_, filter_, kPageSize);
  if (!page.ok()) {
    FinishNow(ToGrpcStatus(page.status()));  // the client resumes from its last seq + 1
    return;
  }
  full_page_ = static_cast<int>(page->activities.size()) == kPageSize;
  if (page->considered_through >= cursor_) {
    cursor_ = page->considered_through + 1;
    head_seq_ = page->considered_through;
  }
  for (const StoredActivity& activity : page->activities) {
    v1::WatchActivitiesResponse& response = pending_.emplace_back();
    ActivityToProto(activity, response.mutable_activity());
    response.set_head_seq(page->activities.back().seq == activity.seq ? head_seq_ : activity.seq);
  }
  // Nothing to send, yet the feed moved on (a filtered stream: what was
  // stored did not match), or long quiet: say how far it has been read, so
  // the client's cursor need not lag behind events it never wanted.
  if (pending_.empty() && (head_seq_ > sent_head_seq_ || absl::Now() - last_write_ >= kKeepAlive)) {
    pending_.emplace_back().set_head_seq(head_seq_);
  }
  WriteNextOrContinue();
}

void WatchActivitiesReactor::WriteNextOrContinue() {
  if (!pending_.empty()) {
    last_write_ = absl::Now();
    sent_head_seq_ = std::max(sent_head_seq_, pending_.front().head_seq());
    StartWrite(&pending_.front());
  } else if (full_page_) {
    Submit(&WatchActivitiesReactor::Fetch);
  } else {
    Wait();
  }
}

void WatchActivitiesReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishNow(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
    return;
  }
  pending_.pop_front();
  WriteNextOrContinue();
}

void WatchActivitiesReactor::Wait() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) {
      return;
    }
    ticket_ = deps_.feed->Subscribe([this](bool shutting_down) { OnWake(shutting_down); },
                                    seen_generation_);
    if (ticket_ != 0) {
      return;
    }
  }
  FinishNow(ShuttingDown());
}

void WatchActivitiesReactor::OnWake(bool shutting_down) {
  grpc::Status status;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (TakeClaimedFinish(&status)) {
      finish = true;  // cancelled while this wake-up was in flight
    } else if (shutting_down) {
      status = ShuttingDown();
      finish = ClaimFinish(status);
    }
  }
  if (finish) {
    Finish(status);
    return;
  }
  if (!shutting_down) {
    Submit(&WatchActivitiesReactor::Fetch);
  }
}

void WatchActivitiesReactor::OnCancel() {
  // Only a waiting feed has nothing under way that would notice by itself.
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (ticket_ != 0) {
      finish = ClaimFinish(grpc::Status::CANCELLED);
    }
  }
  if (finish) {
    Finish(grpc::Status::CANCELLED);
  }
}

}  // namespace crm::audit
