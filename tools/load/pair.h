#pragma once

// Pair mode: a service method against what it is made of, measured in one
// invocation so the answer is a ratio that holds on a noisy machine. Each
// round runs the service method, then its raw SQL, then the gRPC floor
// (grpc.health.v1.Health/Check: a call that does nothing); the figures are
// the medians across rounds.
//
// The composed limit is what a service adding nothing to one gRPC call and
// one query could reach, if each call cost the sum of their per-call costs:
// 1 / (1/floor_rps + 1/raw_rps). ratio = service_rps / composed limit.

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/load/stats.h"

namespace crm::load {

struct PairRound {
  Summary service;
  Summary raw;
  Summary floor;
};

struct PairResult {
  std::vector<PairRound> rounds;
  Summary service;  // medians across rounds (calls and errors: totals)
  Summary raw;
  Summary floor;
  double composed_limit_rps = 0;
  double ratio = 0;            // service rps / composed limit
  double budget_p50_us = 0;    // floor p50 + raw p50
  double overhead_p50_us = 0;  // service p50 - budget
};

// 1 / (1/floor_rps + 1/raw_rps); 0 when either is 0 (nothing completed).
double ComposedLimit(double floor_rps, double raw_rps);

// Medians, composed limit, ratio and latency budget of the rounds.
PairResult ComposePair(std::vector<PairRound> rounds);

using RunLeg = std::function<absl::StatusOr<Summary>()>;

// Runs `rounds` rounds of service, raw, floor (in that order); the first
// error ends it. `after_round` (may be empty) sees each round as it ends.
absl::StatusOr<PairResult> RunPair(int rounds, const RunLeg& service, const RunLeg& raw,
                                   const RunLeg& floor,
                                   const std::function<void(int, const PairRound&)>& after_round);

}  // namespace crm::load
