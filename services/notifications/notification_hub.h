#pragma once

// The watchers of this process (WatchNotifications streams) by recipient, so
// a new notification reaches only the streams of its recipient: an idle
// watcher costs no thread and no query. The hub also ticks (heartbeats,
// token expiry), caps streams per user and per process, and tells every
// watcher to re-read when the listener may have missed notifications.
//
//   NotificationHub hub({.max_per_user = 16, .max_total = 10000});
//   if (absl::Status s = hub.Add(recipient, this); !s.ok()) ...   // in a watcher
//   hub.Publish(records);                                          // the listener
//   hub.Remove(recipient, this);                                   // before the watcher goes

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/notifications/notification_record.h"

namespace crm::notifications {

class NotificationHub {
 public:
  // What the hub calls, always under its own lock (so a watcher's Remove
  // waits for a call in progress): none may call back into the hub.
  class Watcher {
   public:
    virtual ~Watcher() = default;
    // A new notification of the watcher's recipient (in id order).
    virtual void Deliver(const NotificationRecord& notification) = 0;
    // About once per tick: heartbeats, the token's expiry.
    virtual void Tick(absl::Time now) = 0;
    // Notifications may have been missed (the listener reconnected): re-read.
    virtual void Resync() = 0;
    // The server is stopping.
    virtual void Shutdown() = 0;
  };

  struct Options {
    int max_per_user = 16;
    int max_total = 10000;
    absl::Duration tick = absl::Seconds(1);
  };

  explicit NotificationHub(Options options);
  NotificationHub(const NotificationHub&) = delete;
  NotificationHub& operator=(const NotificationHub&) = delete;
  ~NotificationHub();

  // RESOURCE_EXHAUSTED past a cap; UNAVAILABLE once shut down.
  absl::Status Add(int64_t recipient_id, Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(int64_t recipient_id, Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);
  bool Watched(int64_t recipient_id) ABSL_LOCKS_EXCLUDED(mu_);
  int size() ABSL_LOCKS_EXCLUDED(mu_);

  // Hands each notification to its recipient's watchers.
  void Publish(const std::vector<NotificationRecord>& notifications) ABSL_LOCKS_EXCLUDED(mu_);
  void ResyncAll() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every watcher (Shutdown) and refuses new ones.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RunTicks();

  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::vector<Watcher*>> watchers_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread ticker_;
};

}  // namespace crm::notifications
