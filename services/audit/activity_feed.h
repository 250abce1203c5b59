#pragma once

// Wakes the audit service's open streams: live feeds (WatchActivities) when
// new activities may be stored, and every stream when the server shuts down.
// Feeds re-read the database when woken, so a spurious wake-up costs one read,
// never an event. None is missed: a feed notes generation() before it reads
// and subscribes with it, so a batch published in between wakes it at once.
// The tick catches activities stored by another audit replica.

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

  // How many batches have been Published(); a feed reads it before it reads
  // the database.
  uint64_t generation() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `wake` once, on the feed's thread: after the next Published() (at
  // once if one came after `seen_generation`), the next tick, or Shutdown().
  // Returns a ticket for Unsubscribe(), or 0 after Shutdown() (then `wake` is
  // not kept).
  uint64_t Subscribe(Wake wake, uint64_t seen_generation);

  // Runs `wake` once, at Shutdown(); a ticket or 0 as above.
  uint64_t SubscribeToShutdown(Wake wake);

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

  uint64_t Add(Wake wake, bool shutdown_only) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();
  void WakeAll(bool shutting_down);

  const absl::Duration tick_;
  absl::Mutex mu_;
  std::map<uint64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crm::audit
