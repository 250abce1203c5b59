#pragma once

// What crm-gateway-bench measured, part by part, and how it prints it: a
// table for people, or with --json one JSON object on one line for scripts
// (tools/bench/gateway_bench.sh).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tools/gateway_bench/web_watchers.h"
#include "tools/load/stats.h"
#include "tools/notify_bench/memory_status.h"
#include "tools/notify_bench/watchers.h"

namespace crm::gateway_bench {

// Part 1: one unary method through the gateway (gRPC-web over HTTP/1.1) and
// straight to its service (gRPC), in alternating rounds.
struct UnaryReport {
  std::string method;  // "/crm.auth.v1.UserService/GetUser"
  int concurrency = 0;
  int channels = 0;  // the direct side's HTTP/2 connections
  int threads = 0;   // client threads, each side
  double warmup_s = 0;
  double duration_s = 0;
  double target_ratio = 0;
  size_t response_bytes = 0;      // the answer's message, checked beforehand
  size_t http_request_bytes = 0;  // one gateway call's request, headers and all
  std::vector<load::Summary> direct_rounds;
  std::vector<load::Summary> gateway_rounds;
  load::Summary direct;   // medians
  load::Summary gateway;  // medians

  double Ratio() const { return direct.rps > 0 ? gateway.rps / direct.rps : 0; }
  bool TargetMet() const { return Ratio() >= target_ratio; }
};

// Part 2: one server stream opened both ways, and each notification's
// arrival on each.
struct FirstMessageReport {
  int asked = 0;  // CreateNotification calls to make
  double interval_ms = 0;
  double target_p50_ms = 0;
  int created = 0;                        // answered OK
  std::map<std::string, int64_t> errors;  // CreateNotification failures by status
  int direct_received = 0;                // of the created ones
  int gateway_received = 0;
  int both = 0;
  int gateway_first = 0;        // of `both`, arrived through the gateway before the direct stream
  int64_t others = 0;           // notifications on the streams that the bench did not create
  std::vector<int64_t> gap_ns;  // gateway arrival − direct arrival (signed), per notification
  std::vector<int64_t> direct_ns;   // direct arrival − CreateNotification's return (signed)
  std::vector<int64_t> gateway_ns;  // gateway arrival − CreateNotification's return (signed)
  std::vector<int64_t> create_ns;   // CreateNotification itself
  notify_bench::WatchCounts direct_stream;
  WebWatchCounts gateway_stream;

  double GapP50Ms() const;
  bool TargetMet() const;
};

// Part 3: many streams held open through the gateway, its memory, and one
// notification to all of them.
struct StreamsReport {
  int streams = 0;
  double establish_s = 0;
  WebWatchCounts counts;           // with every stream open, after the fan-out
  int delivered = 0;               // streams that received the fan-out notification
  std::vector<int64_t> fanout_ns;  // its arrival on each − CreateNotification's return
  std::optional<notify_bench::MemoryStatus> before;  // the gateway, before any stream
  std::optional<notify_bench::MemoryStatus> open;    // every stream open (1 s after)
  std::optional<notify_bench::MemoryStatus> after;   // after the fan-out, streams still open
  std::optional<notify_bench::MemoryStatus> closed;  // 1 s after closing them all

  double KibPerStream() const;
};

std::string FormatUnary(const UnaryReport& r);
std::string FormatFirstMessage(const FirstMessageReport& r);
std::string FormatStreams(const StreamsReport& r);

nlohmann::json UnaryJson(const UnaryReport& r);
nlohmann::json FirstMessageJson(const FirstMessageReport& r);
nlohmann::json StreamsJson(const StreamsReport& r);

// p50/p90/p99/max (nearest rank) of `ns`, sorted here, in milliseconds.
nlohmann::json LatencyJson(std::vector<int64_t> ns);

}  // namespace crm::gateway_bench
