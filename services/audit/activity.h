#pragma once

// The audit service's domain types, free of gRPC and SQL.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crm::audit {

// An event as submitted, after validation (see event_validation.h).
struct Event {
  std::string event_id;            // lower-case canonical UUID
  int64_t occurred_at_micros = 0;  // since the Unix epoch, UTC (PostgreSQL's precision)
  std::string service;
  int64_t user_id = 0;
  std::string action;
  std::string entity_type;
  int64_t entity_id = 0;
  std::string details_json = "{}";
};

// A stored event: its place in the log and its link in the hash chain.
struct StoredActivity {
  int64_t seq = 0;
  Event event;
  std::string prev_hash;  // 32 bytes
  std::string hash;       // 32 bytes
  int64_t record_time_micros = 0;
};

// What ListActivities and WatchActivities select; empty fields match all.
struct ActivityFilter {
  int64_t user_id = 0;
  std::string entity_type;
  int64_t entity_id = 0;
  std::string action;
  std::vector<std::string> actions;  // any of them; sorted, no repeats
  std::string service;
  std::optional<int64_t> start_micros;  // inclusive
  std::optional<int64_t> end_micros;    // exclusive
};

}  // namespace crm::audit
