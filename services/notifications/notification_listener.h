#pragma once

// The one LISTEN of a process: every new notification's NOTIFY
// ("<recipient_id>:<id>", from the insert trigger) reaches this thread; the
// ones whose recipient has a watcher here are read in one query per wake-up
// and handed to the hub. Notifications created by any process (another
// replica, a direct CreateNotification) reach every process's watchers.
// After a lost connection it reconnects with back-off and tells every
// watcher to re-read from its last id (NOTIFYs sent meanwhile are lost).

#include <atomic>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/notifications/notification_hub.h"

namespace crm::notifications {

class NotificationListener {
 public:
  NotificationListener(std::string dsn, NotificationHub* hub);
  NotificationListener(const NotificationListener&) = delete;
  NotificationListener& operator=(const NotificationListener&) = delete;
  ~NotificationListener();

  void Start();
  void Stop();
  bool listening() const { return listening_.load(); }

 private:
  void Run();
  // One connection's life: LISTEN, then hand over notifications until it
  // breaks or Stop().
  void Listen();

  const std::string dsn_;
  NotificationHub* const hub_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace crm::notifications
