#include "tools/notify_bench/assignments.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::notify_bench {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr int64_t kMs = 1'000'000;

TEST(AssignmentTrackerTest, LatencyRunsFromReturnToDelivery) {
  AssignmentTracker t;
  const auto id = t.Sent(/*lead_id=*/7, /*agent_id=*/1, /*measured=*/true, 100 * kMs);
  EXPECT_EQ(t.Outstanding(), 1);
  t.Returned(id, 103 * kMs);
  EXPECT_EQ(t.Outstanding(), 1);
  t.Delivered(1, 7, 110 * kMs);
  EXPECT_EQ(t.Outstanding(), 0);
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(r.returned, 1);
  EXPECT_EQ(r.delivered, 1);
  EXPECT_EQ(r.missing, 0);
  EXPECT_EQ(r.early, 0);
  EXPECT_THAT(r.latency_ns, ElementsAre(7 * kMs));
  EXPECT_THAT(r.assign_ns, ElementsAre(3 * kMs));
}

TEST(AssignmentTrackerTest, PushBeforeReturnCountsAsZeroAndEarly) {
  AssignmentTracker t;
  const auto id = t.Sent(7, 1, true, 100 * kMs);
  t.Delivered(1, 7, 102 * kMs);
  EXPECT_EQ(t.Outstanding(), 1);  // the answer is still awaited
  t.Returned(id, 104 * kMs);
  EXPECT_EQ(t.Outstanding(), 0);
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.early, 1);
  EXPECT_THAT(r.latency_ns, ElementsAre(0));
}

TEST(AssignmentTrackerTest, MatchesInOrderPerAgentAndLead) {
  AssignmentTracker t;
  // Lead 7 goes to agent 1, then 2, then 1 again; lead 8 to agent 1.
  const auto a = t.Sent(7, 1, true, 0);
  const auto b = t.Sent(7, 2, true, 10 * kMs);
  const auto c = t.Sent(7, 1, true, 20 * kMs);
  const auto d = t.Sent(8, 1, true, 30 * kMs);
  for (const auto id : {a, b, c, d}) {
    t.Returned(id, static_cast<int64_t>(id) * 10 * kMs + kMs);
  }
  t.Delivered(1, 8, 40 * kMs);  // d: 9 ms
  t.Delivered(1, 7, 50 * kMs);  // a: the oldest of (1, 7): 49 ms
  t.Delivered(2, 7, 51 * kMs);  // b: 40 ms
  t.Delivered(1, 7, 52 * kMs);  // c: 31 ms
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.delivered, 4);
  EXPECT_EQ(r.unexpected, 0);
  EXPECT_THAT(r.latency_ns, ElementsAre(9 * kMs, 31 * kMs, 40 * kMs, 49 * kMs));
}

TEST(AssignmentTrackerTest, UnmatchedAndOtherNotificationsAreCounted) {
  AssignmentTracker t;
  t.Delivered(1, 7, kMs);  // nothing sent
  const auto id = t.Sent(7, 1, true, 0);
  t.Delivered(2, 7, kMs);  // the other agent
  t.OtherNotification();
  t.Returned(id, kMs);
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.unexpected, 2);
  EXPECT_EQ(r.other_kinds, 1);
  EXPECT_EQ(r.missing, 1);
  EXPECT_EQ(t.Outstanding(), 1);
}

TEST(AssignmentTrackerTest, FailedCallsAreErrorsAndMatchNothing) {
  AssignmentTracker t;
  const auto id = t.Sent(7, 1, true, 0);
  t.Failed(id, "ABORTED");
  t.NotSent(true, "NO_IDLE_LEAD");
  t.NotSent(false, "NO_IDLE_LEAD");  // in the warm-up: not counted
  EXPECT_EQ(t.Outstanding(), 0);
  t.Delivered(1, 7, kMs);  // committed after all: unexpected, never matched
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(r.returned, 0);
  EXPECT_EQ(r.error_count, 2);
  EXPECT_THAT(r.errors, ElementsAre(Pair("ABORTED", 1), Pair("NO_IDLE_LEAD", 1)));
  EXPECT_EQ(r.unexpected, 1);
  EXPECT_THAT(r.latency_ns, IsEmpty());
}

TEST(AssignmentTrackerTest, WarmUpIsMatchedButNotReported) {
  AssignmentTracker t;
  const auto warm = t.Sent(7, 1, /*measured=*/false, 0);
  const auto measured = t.Sent(7, 1, /*measured=*/true, 10 * kMs);
  EXPECT_EQ(t.Outstanding(), 1);
  t.Returned(warm, kMs);
  t.Returned(measured, 11 * kMs);
  t.Delivered(1, 7, 5 * kMs);   // the warm-up's
  t.Delivered(1, 7, 15 * kMs);  // the measured one's: 4 ms
  EXPECT_EQ(t.Outstanding(), 0);
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.sent, 1);
  EXPECT_THAT(r.latency_ns, ElementsAre(4 * kMs));
}

TEST(AssignmentTrackerTest, UnansweredCallsArePending) {
  AssignmentTracker t;
  t.Sent(7, 1, true, 0);
  const DeliveryReport r = t.Report();
  EXPECT_EQ(r.pending, 1);
  EXPECT_EQ(r.missing, 0);
}

}  // namespace
}  // namespace crm::notify_bench
