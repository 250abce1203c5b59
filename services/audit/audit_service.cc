#include "services/audit/audit_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth/caller.h"
#include "common/pagination/keyset_page.h"
#include "common/service/run_authenticated.h"
#include "common/status/grpc_status.h"
#include "services/audit/activity_hash.h"
#include "services/audit/activity_proto.h"
#include "services/audit/record_activities_reactor.h"
#include "services/audit/watch_activities_reactor.h"

namespace crm::audit {
namespace {

constexpr int kVerifyPageSize = 1000;

}  // namespace

grpc::ServerBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse>*
AuditServiceImpl::RecordActivities(grpc::CallbackServerContext* context) {
  return new RecordActivitiesReactor(context, deps_);
}

grpc::ServerWriteReactor<v1::WatchActivitiesResponse>* AuditServiceImpl::WatchActivities(
    grpc::CallbackServerContext* context, const v1::WatchActivitiesRequest* request) {
  return new WatchActivitiesReactor(context, *request, deps_);
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListActivities(grpc::CallbackServerContext* context,
                                                           const v1::ListActivitiesRequest* request,
                                                           v1::ListActivitiesResponse* response) {
  return service::RunAuthenticated(context, *deps_.executor, *deps_.authenticator,
                                   [=, this](const auth::Caller& caller) {
                                     return DoListActivities(caller, *request, response);
                                   });
}

absl::Status AuditServiceImpl::DoListActivities(const auth::Caller& caller,
                                                const v1::ListActivitiesRequest& request,
                                                v1::ListActivitiesResponse* response) {
  if (absl::Status s =
          auth::RequireRole(caller, {auth::Role::kAdmin, auth::Role::kService, auth::Role::kAgent});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<ActivityFilter> filter = FilterFromProto(request.filter(), "filter");
  if (!filter.ok()) {
    return filter.status();
  }
  if (caller.Is(auth::Role::kAgent)) {
    // An agent sees what it did itself; asking for someone else's is refused
    // rather than silently answered with nothing.
    if (filter->user_id != 0 && !caller.IsSelf(filter->user_id)) {
      return absl::PermissionDeniedError("agents may only list their own activities");
    }
    filter->user_id = caller.user_id;
  }
  const bool oldest_first = request.order() == v1::ACTIVITY_ORDER_OLDEST_FIRST;
  const std::string fingerprint =
      absl::StrCat("activities|", FilterFingerprint(*filter), "|oldest_first=", oldest_first);
  absl::StatusOr<pagination::KeysetPage> page = pagination::KeysetPage::Begin(
      *deps_.page_tokens, fingerprint, request.page_size(), request.page_token());
  if (!page.ok()) {
    return page.status();
  }
  absl::StatusOr<std::vector<StoredActivity>> rows =
      deps_.activities->List(*filter, !oldest_first, page->after(), page->fetch_limit());
  if (!rows.ok()) {
    return rows.status();
  }
  response->set_next_page_token(page->Finish(*rows, response->mutable_activities(), ActivityToProto,
                                             [](const StoredActivity& a) { return a.seq; }));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyActivities(
    grpc::CallbackServerContext* context, const v1::VerifyActivitiesRequest* request,
    v1::VerifyActivitiesResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator, [=, this](const auth::Caller& caller) {
        return DoVerifyActivities(caller, *context, *request, response);
      });
}

absl::Status AuditServiceImpl::DoVerifyActivities(const auth::Caller& caller,
                                                  const grpc::CallbackServerContext& context,
                                                  const v1::VerifyActivitiesRequest& request,
                                                  v1::VerifyActivitiesResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {auth::Role::kAdmin}); !s.ok()) {
    return s;
  }
  if (request.from_seq() < 0) {
    return InvalidArgumentError("from_seq", "must not be negative");
  }
  if (request.to_seq() < 0) {
    return InvalidArgumentError("to_seq", "must not be negative");
  }
  const int64_t from = std::max<int64_t>(request.from_seq(), 1);
  const int64_t to = request.to_seq();  // 0: up to the head as it is now
  if (to != 0 && to < from) {
    return InvalidArgumentError("to_seq", "must not be below from_seq");
  }

  response->Clear();
  auto fail = [response](int64_t seq, absl::string_view reason) {
    response->set_ok(false);
    response->set_first_bad_seq(seq);
    response->set_reason(std::string(reason));
    return absl::OkStatus();
  };

  // The chain is anchored on the row before the range (its stored hash).
  std::string prev_hash = GenesisHash();
  if (from > 1) {
    absl::StatusOr<FeedPage> before = deps_.activities->ReadFeed(from - 1, {}, 1);
    if (!before.ok()) {
      return before.status();
    }
    if (before->activities.empty() || before->activities[0].seq != from - 1) {
      return fail(from, absl::StrCat("seq ", from - 1, ", which it chains to, is missing"));
    }
    prev_hash = before->activities[0].hash;
  }

  int64_t expected = from;
  while (to == 0 || expected <= to) {
    if (context.IsCancelled()) {
      return absl::CancelledError("cancelled by the client");
    }
    absl::StatusOr<FeedPage> page = deps_.activities->ReadFeed(expected, {}, kVerifyPageSize);
    if (!page.ok()) {
      return page.status();
    }
    if (page->activities.empty()) {
      if (to != 0) {
        return fail(expected, "missing row");  // the range runs past the last stored row
      }
      break;
    }
    for (const StoredActivity& row : page->activities) {
      if (to != 0 && row.seq > to) {
        break;
      }
      if (row.seq != expected) {
        return fail(expected, "missing row");
      }
      if (row.prev_hash != prev_hash) {
        return fail(row.seq, "prev_hash mismatch");
      }
      if (ChainHash(row.prev_hash, row.seq, row.event) != row.hash) {
        return fail(row.seq, "hash mismatch");
      }
      response->set_verified_count(response->verified_count() + 1);
      response->set_last_seq(row.seq);
      response->set_last_hash(row.hash);
      prev_hash = row.hash;
      ++expected;
    }
  }
  response->set_ok(true);
  return absl::OkStatus();
}

}  // namespace crm::audit
