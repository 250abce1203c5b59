#pragma once

// Wakes the audit service's open streams: live feeds (WatchActivities) when
// new activities may be stored, and every stream when the server shuts down.
// Feeds re-read the database when woken, so a missed or spurious wake-up
// costs at most one tick of latency, never an event; the tick also catches
// activities stored by another audit replica.

#include <cstdint>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::audit {

class ActivityFeed {
 public:
  // Called with true when the server is shutting down.
  using Wake = absl::AnyInvocable<void(bool shutting_down) &&>;

  explicit ActivityFeed(absl::Duration tick = absl::Seconds(1));
  ActivityFeed(const ActivityFeed&) = delete;
  ActivityFeed& operator=(const ActivityFeed&) = delete;
  ~ActivityFeed();

  // Runs `wake` once, on the feed's thread: after the next Published() or
  // tick (unless `shutdown_only`), or at Shutdown(). Returns a ticket for
  // Unsubscribe(), or 0 after Shutdown() (then `wake` is not kept).
  uint64_t Subscribe(Wake wake, bool shutdown_only = false);

  // True if the subscription was removed before it ran; false if it has run
  // or is running.
  bool Unsubscribe(uint64_t ticket);

  // After a batch commits: wakes the live feeds now.
  void Published();

  // Wakes every subscriber with true; later Subscribe() calls return 0.
  void Shutdown();
  bool shutting_down() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Subscriber {
    Wake wake;
    bool shutdown_only;
  };

  void Run();
  void WakeAll(bool shutting_down);

  const absl::Duration tick_;
  absl::Mutex mu_;
  std::map<uint64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crm::audit
