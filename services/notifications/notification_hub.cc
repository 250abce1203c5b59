#include "services/notifications/notification_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/grpc_status.h"

namespace crm::notifications {

NotificationHub::NotificationHub(Options options)
    : options_(options), ticker_([this] { RunTicks(); }) {}

NotificationHub::~NotificationHub() {
  stop_.Notify();
  ticker_.join();
}

absl::Status NotificationHub::Add(int64_t recipient_id, Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return WithRetryDelay(absl::UnavailableError("server shutting down"), absl::Seconds(1));
  }
  if (total_ >= options_.max_total) {
    return WithRetryDelay(
        absl::ResourceExhaustedError("this server has as many notification streams open as it "
                                     "allows; try again later"),
        absl::Seconds(5));
  }
  std::vector<Watcher*>& mine = watchers_[recipient_id];
  if (static_cast<int>(mine.size()) >= options_.max_per_user) {
    if (mine.empty()) {
      watchers_.erase(recipient_id);
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("this user already has ", options_.max_per_user,
                     " notification streams open (the most allowed); close one first"));
  }
  mine.push_back(watcher);
  ++total_;
  return absl::OkStatus();
}

void NotificationHub::Remove(int64_t recipient_id, Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(recipient_id);
  if (it == watchers_.end()) {
    return;
  }
  std::vector<Watcher*>& mine = it->second;
  auto found = std::find(mine.begin(), mine.end(), watcher);
  if (found == mine.end()) {
    return;
  }
  mine.erase(found);
  --total_;
  if (mine.empty()) {
    watchers_.erase(it);
  }
}

bool NotificationHub::Watched(int64_t recipient_id) {
  absl::MutexLock lock(&mu_);
  return watchers_.contains(recipient_id);
}

int NotificationHub::size() {
  absl::MutexLock lock(&mu_);
  return total_;
}

void NotificationHub::Publish(const std::vector<NotificationRecord>& notifications) {
  absl::MutexLock lock(&mu_);
  for (const NotificationRecord& n : notifications) {
    auto it = watchers_.find(n.recipient_id);
    if (it == watchers_.end()) {
      continue;
    }
    for (Watcher* watcher : it->second) {
      watcher->Deliver(n);
    }
  }
}

void NotificationHub::ResyncAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [recipient, watchers] : watchers_) {
    for (Watcher* watcher : watchers) {
      watcher->Resync();
    }
  }
}

void NotificationHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [recipient, watchers] : watchers_) {
    for (Watcher* watcher : watchers) {
      watcher->Shutdown();
    }
  }
}

void NotificationHub::RunTicks() {
  while (!stop_.WaitForNotificationWithTimeout(options_.tick)) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    for (auto& [recipient, watchers] : watchers_) {
      for (Watcher* watcher : watchers) {
        watcher->Tick(now);
      }
    }
  }
}

}  // namespace crm::notifications
