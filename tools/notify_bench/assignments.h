#pragma once

// What crm-notify-bench measures: every AssignLead it sends, when the call
// returned, and when the agent's WatchNotifications stream delivered the
// `lead.assigned` notification that assignment caused. Thread-safe: the
// sender, gRPC's callback threads (call completions) and the watchers' read
// callbacks all report here.
//
//   AssignmentTracker tracker;
//   auto id = tracker.Sent(lead_id, agent_id, /*measured=*/true, MonotonicNowNs());
//   ... AssignLead completes:  tracker.Returned(id, MonotonicNowNs());
//   ... the agent's stream:    tracker.Delivered(agent_id, lead_id, MonotonicNowNs());
//   DeliveryReport report = tracker.Report();
//
// A notification is matched to the oldest assignment of that lead to that
// agent still waiting for one. The notifications of one lead for one agent
// arrive in the order of its assignments (they follow the lead's events in
// audit's feed, and a stream delivers in id order), so this pairs them
// exactly. The push may beat AssignLead's answer: its latency is then
// negative, reported as 0 and counted (`early`).

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace crm::notify_bench {

// Nanoseconds on the monotonic clock: latencies are differences of these.
int64_t MonotonicNowNs();

// What a run measured, over the assignments sent in the measured window.
struct DeliveryReport {
  int64_t sent = 0;       // AssignLead calls sent
  int64_t returned = 0;   // of those, answered OK
  int64_t delivered = 0;  // of those, delivered to the agent's stream
  int64_t missing = 0;    // returned OK but never delivered
  int64_t early = 0;      // delivered before AssignLead returned (latency counted as 0)
  int64_t pending = 0;    // still in flight (no answer yet)
  std::map<std::string, int64_t> errors;  // by gRPC status name, and NO_IDLE_LEAD
  int64_t error_count = 0;
  // Over the whole run (warm-up included): lead.assigned notifications that
  // matched no assignment, and notifications of other kinds, on the agents'
  // streams.
  int64_t unexpected = 0;
  int64_t other_kinds = 0;
  // Ascending, in nanoseconds: return → delivery (clamped at 0), and the
  // AssignLead call itself (send → return).
  std::vector<int64_t> latency_ns;
  std::vector<int64_t> assign_ns;
};

class AssignmentTracker {
 public:
  using Id = int64_t;

  // Before an AssignLead of `lead_id` to `agent_id` is sent (so that a push
  // arriving before the answer finds it). `measured`: sent inside the
  // measured window.
  Id Sent(int64_t lead_id, int64_t agent_id, bool measured, int64_t now_ns);
  // The call answered OK.
  void Returned(Id id, int64_t now_ns);
  // The call failed with `code` (a status name): nothing will be matched to
  // it any more.
  void Failed(Id id, const std::string& code);
  // An assignment that could not be sent (e.g. NO_IDLE_LEAD: every bench
  // lead still had an assignment in flight), counted as an error.
  void NotSent(bool measured, const std::string& code);

  // A `lead.assigned` notification about `lead_id` on `agent_id`'s stream.
  void Delivered(int64_t agent_id, int64_t lead_id, int64_t now_ns);
  // Any other notification on an agent's stream.
  void OtherNotification();

  // Measured assignments still waiting: in flight, or answered OK and not
  // yet delivered.
  int64_t Outstanding() const;

  DeliveryReport Report() const;

 private:
  struct Assignment {
    int64_t lead_id = 0;
    int64_t agent_id = 0;
    bool measured = false;
    bool failed = false;
    int64_t sent_ns = 0;
    int64_t returned_ns = 0;   // 0: no answer yet
    int64_t delivered_ns = 0;  // 0: not delivered
  };
  using Key = std::pair<int64_t, int64_t>;  // (agent, lead)

  void Settle(const Assignment& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::deque<Assignment> assignments_ ABSL_GUARDED_BY(mu_);  // by Id
  // Assignments not yet delivered, oldest first, per (agent, lead).
  absl::flat_hash_map<Key, std::deque<Id>> waiting_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> errors_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unexpected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t other_kinds_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crm::notify_bench
