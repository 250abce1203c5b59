#include "services/audit/record_activities_reactor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth/caller.h"
#include "common/status/grpc_status.h"
#include "services/audit/activity_proto.h"

namespace crm::audit {
namespace {

constexpr int kMaxEventsPerRequest = 500;

}  // namespace

RecordActivitiesReactor::RecordActivitiesReactor(grpc::CallbackServerContext* context,
                                                 const AuditServiceDeps& deps)
    : FeedStream(deps), context_(context) {
  Submit(&RecordActivitiesReactor::Authenticate);
}

void RecordActivitiesReactor::Authenticate() {
  absl::StatusOr<auth::Caller> caller = deps_.authenticator->Authenticate(*context_);
  absl::Status allowed =
      caller.ok() ? auth::RequireRole(*caller, {auth::Role::kService}) : caller.status();
  if (allowed.ok() && caller->service.empty()) {
    allowed = absl::PermissionDeniedError("the access token names no service; sign in again");
  }
  if (!allowed.ok()) {
    FinishNow(ToGrpcStatus(allowed));
    return;
  }
  caller_ = *std::move(caller);
  {
    absl::MutexLock lock(&mu_);
    ticket_ = deps_.feed->SubscribeToShutdown([this](bool) { OnShutdown(); });
    if (ticket_ != 0) {
      reading_ = true;
      StartRead(&request_);
      return;
    }
  }
  FinishNow(ShuttingDown());
}

void RecordActivitiesReactor::OnShutdown() {
  grpc::Status status;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (TakeClaimedFinish(&status)) {
      finish = true;
    } else if (reading_) {
      finish = ClaimFinish(ShuttingDown());  // allowed with a read outstanding
      status = ShuttingDown();
    } else {
      shutting_down_ = true;  // finish once the current batch is answered
    }
  }
  if (finish) {
    Finish(status);
  }
}

void RecordActivitiesReactor::ReadNext() {
  {
    absl::MutexLock lock(&mu_);
    if (!shutting_down_ && !finished_) {
      reading_ = true;
      StartRead(&request_);
      return;
    }
  }
  FinishNow(ShuttingDown());
}

void RecordActivitiesReactor::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (finished_) {
      return;
    }
  }
  if (!ok) {
    FinishNow(grpc::Status::OK);  // the producer closed its side, or went away
    return;
  }
  Submit(&RecordActivitiesReactor::Store);
}

void RecordActivitiesReactor::Store() {
  if (absl::Status s = auth::RequireUnexpired(caller_); !s.ok()) {
    FinishNow(ToGrpcStatus(s));  // the batch stays with its sender, who signs in again
    return;
  }
  if (request_.events_size() > kMaxEventsPerRequest) {
    FinishNow(ToGrpcStatus(InvalidArgumentError(
        "events", absl::StrCat("at most ", kMaxEventsPerRequest, " per request"))));
    return;
  }
  // Another service's name is not a bad event but a caller without the
  // right: the stream ends and the events stay with their sender.
  for (int i = 0; i < request_.events_size(); ++i) {
    if (request_.events(i).service() != caller_.service) {
      FinishNow(ToGrpcStatus(absl::PermissionDeniedError(absl::StrCat(
          "events[", i, "].service must be the calling account's, \"", caller_.service, "\""))));
      return;
    }
  }
  response_.Clear();
  std::vector<Event> valid;
  std::vector<v1::ActivityAck*> valid_acks;
  valid.reserve(request_.events_size());
  for (const v1::ActivityEvent& proto : request_.events()) {
    v1::ActivityAck* ack = response_.add_acks();
    ack->set_event_id(proto.event_id());
    absl::StatusOr<Event> event = EventFromProto(proto);
    if (!event.ok()) {
      ack->set_status(v1::ACK_STATUS_REJECTED);
      ack->set_error(std::string(event.status().message()));
      continue;
    }
    valid.push_back(*std::move(event));
    valid_acks.push_back(ack);
  }
  absl::StatusOr<std::vector<AppendResult>> results = deps_.activities->Append(valid);
  if (!results.ok()) {
    FinishNow(ToGrpcStatus(results.status()));  // the producer resends the whole batch
    return;
  }
  bool stored = false;
  for (size_t i = 0; i < results->size(); ++i) {
    const AppendResult& result = (*results)[i];
    if (!result.rejected.empty()) {
      // One event the database refuses never holds up the others.
      valid_acks[i]->set_status(v1::ACK_STATUS_REJECTED);
      valid_acks[i]->set_error(result.rejected);
      continue;
    }
    valid_acks[i]->set_seq(result.seq);
    valid_acks[i]->set_status(result.duplicate ? v1::ACK_STATUS_DUPLICATE : v1::ACK_STATUS_STORED);
    stored = stored || !result.duplicate;
  }
  if (stored) {
    deps_.feed->Published();
  }
  StartWrite(&response_);
}

void RecordActivitiesReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishNow(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
    return;
  }
  ReadNext();
}

}  // namespace crm::audit
