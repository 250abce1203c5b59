#include "tools/notify_bench/assignments.h"

#include <algorithm>
#include <chrono>

namespace crm::notify_bench {

int64_t MonotonicNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

AssignmentTracker::Id AssignmentTracker::Sent(int64_t lead_id, int64_t agent_id, bool measured,
                                              int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  const Id id = static_cast<Id>(assignments_.size());
  Assignment& a = assignments_.emplace_back();
  a.lead_id = lead_id;
  a.agent_id = agent_id;
  a.measured = measured;
  a.sent_ns = now_ns;
  waiting_[Key(agent_id, lead_id)].push_back(id);
  if (measured) {
    ++outstanding_;
  }
  return id;
}

void AssignmentTracker::Settle(const Assignment& a) {
  if (a.measured && a.returned_ns != 0 && a.delivered_ns != 0) {
    --outstanding_;
  }
}

void AssignmentTracker::Returned(Id id, int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  Assignment& a = assignments_[id];
  a.returned_ns = now_ns;
  Settle(a);
}

void AssignmentTracker::Failed(Id id, const std::string& code) {
  absl::MutexLock lock(&mu_);
  Assignment& a = assignments_[id];
  a.failed = true;
  if (a.measured) {
    ++errors_[code];
    --outstanding_;  // it had no OK answer, so it was not settled
  }
  // No notification is expected any more. (Should the change have been
  // committed all the same, its notification finds nothing and counts as
  // unexpected: the lead is not assigned again in this run.)
  if (auto it = waiting_.find(Key(a.agent_id, a.lead_id)); it != waiting_.end()) {
    std::erase(it->second, id);
  }
}

void AssignmentTracker::NotSent(bool measured, const std::string& code) {
  if (!measured) {
    return;
  }
  absl::MutexLock lock(&mu_);
  ++errors_[code];
}

void AssignmentTracker::Delivered(int64_t agent_id, int64_t lead_id, int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  auto it = waiting_.find(Key(agent_id, lead_id));
  if (it == waiting_.end() || it->second.empty()) {
    ++unexpected_;
    return;
  }
  Assignment& a = assignments_[it->second.front()];
  it->second.pop_front();
  a.delivered_ns = now_ns;
  Settle(a);
}

void AssignmentTracker::OtherNotification() {
  absl::MutexLock lock(&mu_);
  ++other_kinds_;
}

int64_t AssignmentTracker::Outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_;
}

DeliveryReport AssignmentTracker::Report() const {
  absl::MutexLock lock(&mu_);
  DeliveryReport r;
  r.errors = errors_;
  for (const auto& [code, count] : errors_) {
    r.error_count += count;
  }
  r.unexpected = unexpected_;
  r.other_kinds = other_kinds_;
  for (const Assignment& a : assignments_) {
    if (!a.measured) {
      continue;
    }
    ++r.sent;
    if (a.failed) {
      continue;
    }
    if (a.returned_ns == 0) {
      ++r.pending;
      continue;
    }
    ++r.returned;
    r.assign_ns.push_back(a.returned_ns - a.sent_ns);
    if (a.delivered_ns == 0) {
      ++r.missing;
      continue;
    }
    ++r.delivered;
    const int64_t latency = a.delivered_ns - a.returned_ns;
    if (latency < 0) {
      ++r.early;
    }
    r.latency_ns.push_back(std::max<int64_t>(latency, 0));
  }
  std::sort(r.latency_ns.begin(), r.latency_ns.end());
  std::sort(r.assign_ns.begin(), r.assign_ns.end());
  return r;
}

}  // namespace crm::notify_bench
