#include "tools/load/stats.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PercentileTest, NearestRankOnOneToHundred) {
  std::vector<int64_t> v(100);
  std::iota(v.begin(), v.end(), 1);
  EXPECT_EQ(Percentile(v, 0.50), 50);
  EXPECT_EQ(Percentile(v, 0.90), 90);
  EXPECT_EQ(Percentile(v, 0.99), 99);
  EXPECT_EQ(Percentile(v, 1.0), 100);
  EXPECT_EQ(Percentile(v, 0.001), 1);
}

TEST(PercentileTest, SmallAndEmpty) {
  EXPECT_EQ(Percentile({}, 0.5), 0);
  EXPECT_EQ(Percentile({7}, 0.5), 7);
  EXPECT_EQ(Percentile({7}, 0.99), 7);
  // Of 10 values, p50 is the 5th and p90 the 9th; p99 rounds up to the 10th.
  const std::vector<int64_t> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(Percentile(ten, 0.5), 5);
  EXPECT_EQ(Percentile(ten, 0.9), 9);
  EXPECT_EQ(Percentile(ten, 0.99), 10);
}

TEST(SummariseTest, MergesThreadsSortsAndCountsErrors) {
  // 1..1000 µs shuffled over three recorders; every 100th call failed.
  std::vector<int64_t> values(1000);
  std::iota(values.begin(), values.end(), 1);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(42));
  std::vector<Recorder> recorders(3);
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t ns = values[i] * 1000;
    if (values[i] % 100 == 0) {
      recorders[i % 3].Error(values[i] % 200 == 0 ? "UNAVAILABLE" : "NOT_FOUND", ns);
    } else {
      recorders[i % 3].Ok(ns);
    }
  }
  const Summary s = Summarise(std::move(recorders), absl::Seconds(2));
  EXPECT_EQ(s.calls, 1000);
  EXPECT_EQ(s.errors, 10);
  EXPECT_THAT(s.errors_by_code, ElementsAre(Pair("NOT_FOUND", 5), Pair("UNAVAILABLE", 5)));
  EXPECT_DOUBLE_EQ(s.seconds, 2);
  EXPECT_DOUBLE_EQ(s.rps, 500);
  EXPECT_DOUBLE_EQ(s.p50_us, 500);
  EXPECT_DOUBLE_EQ(s.p90_us, 900);
  EXPECT_DOUBLE_EQ(s.p99_us, 990);
  EXPECT_DOUBLE_EQ(s.max_us, 1000);
  EXPECT_DOUBLE_EQ(s.error_ratio(), 0.01);
}

TEST(SummariseTest, EmptyRun) {
  const Summary s = Summarise({Recorder(), Recorder()}, absl::Seconds(1));
  EXPECT_EQ(s.calls, 0);
  EXPECT_EQ(s.rps, 0);
  EXPECT_EQ(s.p99_us, 0);
  EXPECT_EQ(s.error_ratio(), 0);
}

TEST(RecorderTest, MergeMovesEverything) {
  Recorder a, b;
  a.Ok(1);
  b.Ok(2);
  b.Error("CANCELLED", 3);
  a.Merge(std::move(b));
  EXPECT_THAT(a.latencies_ns(), ElementsAre(1, 2, 3));
  EXPECT_THAT(a.errors(), ElementsAre(Pair("CANCELLED", 1)));
}

TEST(MedianTest, OddEvenEmpty) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

Summary Figures(int64_t calls, int64_t not_found, double p50, double p90, double p99, double max) {
  Summary s;
  s.calls = calls;
  s.errors = not_found;
  if (not_found > 0) {
    s.errors_by_code["NOT_FOUND"] = not_found;
  }
  s.seconds = 1;
  s.rps = static_cast<double>(calls);
  s.p50_us = p50;
  s.p90_us = p90;
  s.p99_us = p99;
  s.max_us = max;
  return s;
}

TEST(MedianOfTest, EachFigureOnItsOwnAndTotals) {
  const Summary m = MedianOf(
      {Figures(10, 1, 5, 9, 30, 40), Figures(30, 0, 1, 2, 3, 4), Figures(20, 2, 3, 20, 10, 100)});
  EXPECT_EQ(m.rps, 20);
  EXPECT_EQ(m.p50_us, 3);
  EXPECT_EQ(m.p90_us, 9);
  EXPECT_EQ(m.p99_us, 10);
  EXPECT_EQ(m.max_us, 40);
  EXPECT_EQ(m.calls, 60);
  EXPECT_EQ(m.errors, 3);
  EXPECT_EQ(m.seconds, 3);
  EXPECT_THAT(m.errors_by_code, ElementsAre(Pair("NOT_FOUND", 3)));
}

}  // namespace
}  // namespace crm::load
