#include "tools/load/pair.h"

#include <utility>

namespace crm::load {

double ComposedLimit(double floor_rps, double raw_rps) {
  if (floor_rps <= 0 || raw_rps <= 0) {
    return 0;
  }
  return 1 / (1 / floor_rps + 1 / raw_rps);
}

PairResult ComposePair(std::vector<PairRound> rounds) {
  PairResult result;
  std::vector<Summary> service, raw, floor;
  for (const PairRound& round : rounds) {
    service.push_back(round.service);
    raw.push_back(round.raw);
    floor.push_back(round.floor);
  }
  result.rounds = std::move(rounds);
  result.service = MedianOf(service);
  result.raw = MedianOf(raw);
  result.floor = MedianOf(floor);
  result.composed_limit_rps = ComposedLimit(result.floor.rps, result.raw.rps);
  result.ratio = result.composed_limit_rps > 0 ? result.service.rps / result.composed_limit_rps : 0;
  result.budget_p50_us = result.floor.p50_us + result.raw.p50_us;
  result.overhead_p50_us = result.service.p50_us - result.budget_p50_us;
  return result;
}

absl::StatusOr<PairResult> RunPair(int rounds, const RunLeg& service, const RunLeg& raw,
                                   const RunLeg& floor,
                                   const std::function<void(int, const PairRound&)>& after_round) {
  std::vector<PairRound> done;
  for (int i = 0; i < rounds; ++i) {
    PairRound round;
    for (auto [leg, out] : {std::pair{&service, &round.service}, std::pair{&raw, &round.raw},
                            std::pair{&floor, &round.floor}}) {
      absl::StatusOr<Summary> summary = (*leg)();
      if (!summary.ok()) {
        return summary.status();
      }
      *out = *std::move(summary);
    }
    if (after_round) {
      after_round(i + 1, round);
    }
    done.push_back(std::move(round));
  }
  return ComposePair(std::move(done));
}

}  // namespace crm::load
