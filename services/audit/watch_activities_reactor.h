#pragma once

// AuditService.WatchActivities: replays stored activities from from_seq in
// seq order, then follows new ones live. It is one loop — read a page from
// the database, write it, and when caught up wait for the feed to say more
// may be stored — so the switch from backlog to live has no gap and no
// duplicate: seqs commit in order, and the cursor only ever moves past what
// a read has seen. One write is in flight at a time and the next page is read
// only when it is done, so a slow client holds one page of memory, no more.

#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "services/audit/activity.h"
#include "services/audit/audit_service_deps.h"
#include "services/audit/feed_stream.h"

namespace crm::audit {

class WatchActivitiesReactor final
    : public FeedStream<grpc::ServerWriteReactor<v1::WatchActivitiesResponse>> {
 public:
  WatchActivitiesReactor(grpc::CallbackServerContext* context,
                         const v1::WatchActivitiesRequest& request, const AuditServiceDeps& deps);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;

 private:
  void Start();
  void Fetch();
  // Writes the next pending message; when none is left, reads on or waits.
  void WriteNextOrContinue();
  void Wait();
  void OnWake(bool shutting_down);

  grpc::CallbackServerContext* const context_;
  const v1::WatchActivitiesRequest request_;

  // Touched only by the one step running at a time (start, fetch, write).
  auth::Caller caller_;
  ActivityFilter filter_;
  int64_t cursor_ = 0;  // the next seq to consider
  int64_t head_seq_ = 0;
  int64_t sent_head_seq_ = 0;  // the highest head_seq written
  uint64_t seen_generation_ = 0;
  bool full_page_ = false;
  std::deque<v1::WatchActivitiesResponse> pending_;
  absl::Time last_write_ = absl::Now();
};

}  // namespace crm::audit
