#pragma once

// What crm-notify-bench prints: a table for people, or with --json one JSON
// object on one line for scripts (tools/bench/notifications_bench.sh).

#include <cstdint>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "tools/notify_bench/assign_driver.h"
#include "tools/notify_bench/assignments.h"
#include "tools/notify_bench/memory_status.h"
#include "tools/notify_bench/watchers.h"

namespace crm::notify_bench {

struct BenchReport {
  // The run's shape.
  double rate = 0;
  double warmup_s = 0;
  double duration_s = 0;
  int idle_users = 0;
  int idle_per_user = 0;
  int leads = 0;
  int channels = 0;
  double target_p99_ms = 0;

  // Setup, in seconds: users (passwords), sign-ins, watchers established.
  double users_s = 0;
  double sign_in_s = 0;
  double watchers_s = 0;
  double setup_s = 0;  // from start to the first assignment

  DriveResult drive;
  DeliveryReport delivery;
  WatchCounts idle;   // at the end, before cancelling
  WatchCounts agent;  // the agents' streams

  // The notifications service's memory (when its pid was given).
  std::optional<MemoryStatus> memory_before;  // before any watcher
  std::optional<MemoryStatus> memory_open;    // with every watcher open
  std::optional<MemoryStatus> memory_end;     // after the run, watchers still open

  // p-th percentile of the delivery latency, ms (nearest rank).
  double LatencyMs(double q) const;
  double AssignMs(double q) const;
  bool TargetMet() const;
};

std::string FormatReport(const BenchReport& r);
nlohmann::json ReportJson(const BenchReport& r);

}  // namespace crm::notify_bench
