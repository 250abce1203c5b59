#include "services/audit/activity_feed.h"

#include <utility>
#include <vector>

namespace crm::audit {

ActivityFeed::ActivityFeed(absl::Duration tick) : tick_(tick), thread_([this] { Run(); }) {}

ActivityFeed::~ActivityFeed() {
  Shutdown();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

uint64_t ActivityFeed::generation() {
  absl::MutexLock lock(&mu_);
  return generation_;
}

uint64_t ActivityFeed::Subscribe(Wake wake, uint64_t seen_generation) {
  absl::MutexLock lock(&mu_);
  if (generation_ != seen_generation) {
    published_ = true;  // the feed's read may have missed it: wake it now
  }
  return Add(std::move(wake), /*shutdown_only=*/false);
}

uint64_t ActivityFeed::SubscribeToShutdown(Wake wake) {
  absl::MutexLock lock(&mu_);
  return Add(std::move(wake), /*shutdown_only=*/true);
}

uint64_t ActivityFeed::Add(Wake wake, bool shutdown_only) {
  if (shutting_down_) {
    return 0;
  }
  const uint64_t ticket = next_ticket_++;
  subscribers_.emplace(ticket, Subscriber{std::move(wake), shutdown_only});
  return ticket;
}

bool ActivityFeed::Unsubscribe(uint64_t ticket) {
  absl::MutexLock lock(&mu_);
  return subscribers_.erase(ticket) > 0;
}

void ActivityFeed::Published() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  published_ = true;
}

void ActivityFeed::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return;
    }
    shutting_down_ = true;
  }
  WakeAll(true);
}

bool ActivityFeed::shutting_down() {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

void ActivityFeed::WakeAll(bool shutting_down) {
  std::vector<Wake> due;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
      if (shutting_down || !it->second.shutdown_only) {
        due.push_back(std::move(it->second.wake));
        it = subscribers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Outside the lock: a wake-up may subscribe again.
  for (Wake& wake : due) {
    std::move(wake)(shutting_down);
  }
}

void ActivityFeed::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return published_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), tick_);
      if (stop_) {
        return;
      }
      published_ = false;
      if (shutting_down_) {
        continue;  // Shutdown() has woken everyone already
      }
    }
    WakeAll(false);
  }
}

}  // namespace crm::audit
