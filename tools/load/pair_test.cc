#include "tools/load/pair.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::ElementsAre;

TEST(ComposedLimitTest, HarmonicSumOfTheParts) {
  // 20 µs + 50 µs per call = 70 µs: 14286 calls/s.
  EXPECT_DOUBLE_EQ(ComposedLimit(50000, 20000), 1 / (1 / 50000.0 + 1 / 20000.0));
  EXPECT_NEAR(ComposedLimit(50000, 20000), 14285.714, 0.001);
  EXPECT_DOUBLE_EQ(ComposedLimit(1000, 1000), 500);
  // Always below the slower part.
  EXPECT_LT(ComposedLimit(1e6, 1000), 1000);
  EXPECT_EQ(ComposedLimit(0, 1000), 0);
  EXPECT_EQ(ComposedLimit(1000, 0), 0);
}

Summary Leg(double rps, double p50_us) {
  Summary s;
  s.calls = static_cast<int64_t>(rps);
  s.seconds = 1;
  s.rps = rps;
  s.p50_us = p50_us;
  return s;
}

PairRound Round(Summary service, Summary raw, Summary floor) {
  PairRound round;
  round.service = service;
  round.raw = raw;
  round.floor = floor;
  return round;
}

TEST(ComposePairTest, MediansRatioAndBudget) {
  const PairResult r = ComposePair({
      Round(Leg(5000, 300), Leg(20000, 100), Leg(40000, 60)),
      Round(Leg(6000, 250), Leg(10000, 150), Leg(50000, 50)),
      Round(Leg(4000, 350), Leg(15000, 120), Leg(30000, 70)),
  });
  EXPECT_EQ(r.service.rps, 5000);
  EXPECT_EQ(r.raw.rps, 15000);
  EXPECT_EQ(r.floor.rps, 40000);
  EXPECT_EQ(r.service.calls, 15000);  // a total
  EXPECT_DOUBLE_EQ(r.composed_limit_rps, 1 / (1 / 40000.0 + 1 / 15000.0));
  EXPECT_DOUBLE_EQ(r.ratio, 5000 / r.composed_limit_rps);
  EXPECT_DOUBLE_EQ(r.budget_p50_us, 60 + 120);
  EXPECT_DOUBLE_EQ(r.overhead_p50_us, 300 - 180);
  EXPECT_EQ(r.rounds.size(), 3u);
}

TEST(ComposePairTest, NothingCompleted) {
  const PairResult r = ComposePair({{}, {}, {}});
  EXPECT_EQ(r.composed_limit_rps, 0);
  EXPECT_EQ(r.ratio, 0);
}

TEST(RunPairTest, InterleavesServiceRawFloorEachRound) {
  std::vector<std::string> order;
  std::vector<int> rounds_seen;
  auto leg = [&order](std::string name, double rps) {
    return [&order, name, rps]() -> absl::StatusOr<Summary> {
      order.push_back(name);
      return Leg(rps, 1);
    };
  };
  absl::StatusOr<PairResult> r =
      RunPair(3, leg("service", 1), leg("raw", 2), leg("floor", 3),
              [&rounds_seen](int round, const PairRound&) { rounds_seen.push_back(round); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(order, ElementsAre("service", "raw", "floor", "service", "raw", "floor", "service",
                                 "raw", "floor"));
  EXPECT_THAT(rounds_seen, ElementsAre(1, 2, 3));
  EXPECT_EQ(r->raw.rps, 2);
}

TEST(RunPairTest, FirstErrorStops) {
  int calls = 0;
  auto ok = [&calls]() -> absl::StatusOr<Summary> {
    ++calls;
    return Summary{};
  };
  auto broken = []() -> absl::StatusOr<Summary> { return absl::UnavailableError("db down"); };
  absl::StatusOr<PairResult> r = RunPair(3, ok, broken, ok, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace crm::load
