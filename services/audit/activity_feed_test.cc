#include "services/audit/activity_feed.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace crm::audit {
namespace {

// The tick is an hour: a wake-up within the test's wait can only come from
// Published() or Shutdown().
constexpr absl::Duration kNoTick = absl::Hours(1);
constexpr absl::Duration kPrompt = absl::Seconds(5);

TEST(ActivityFeedTest, PublishedWakesLiveSubscribers) {
  ActivityFeed feed(kNoTick);
  absl::Notification woken;
  bool shutting_down = true;
  ASSERT_NE(feed.Subscribe(
                [&](bool s) {
                  shutting_down = s;
                  woken.Notify();
                },
                feed.generation()),
            0u);
  feed.Published();
  ASSERT_TRUE(woken.WaitForNotificationWithTimeout(kPrompt));
  EXPECT_FALSE(shutting_down);
}

// Publishes a batch and returns once the feed's thread has handled it.
void PublishAndSettle(ActivityFeed& feed) {
  absl::Notification handled;
  feed.Subscribe([&](bool) { handled.Notify(); }, feed.generation());
  feed.Published();
  ASSERT_TRUE(handled.WaitForNotificationWithTimeout(kPrompt));
}

// A feed reads the database after noting the generation and subscribes after
// the read; a batch published in between must still wake it at once, not at
// the next tick.
TEST(ActivityFeedTest, PublishedBetweenReadAndSubscribeWakesAtOnce) {
  ActivityFeed feed(kNoTick);
  const uint64_t seen = feed.generation();
  PublishAndSettle(feed);
  absl::Notification woken;
  ASSERT_NE(feed.Subscribe([&](bool) { woken.Notify(); }, seen), 0u);
  EXPECT_TRUE(woken.WaitForNotificationWithTimeout(kPrompt));
}

TEST(ActivityFeedTest, UpToDateSubscriberWaitsForTheNextBatch) {
  ActivityFeed feed(kNoTick);
  PublishAndSettle(feed);
  absl::Notification woken;
  const uint64_t ticket = feed.Subscribe([&](bool) { woken.Notify(); }, feed.generation());
  EXPECT_FALSE(woken.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  EXPECT_TRUE(feed.Unsubscribe(ticket));
  EXPECT_FALSE(feed.Unsubscribe(ticket));
}

TEST(ActivityFeedTest, ShutdownWakesEveryoneAndRefusesNewSubscribers) {
  ActivityFeed feed(kNoTick);
  absl::Notification ingest_woken;
  absl::Notification watch_woken;
  bool watch_shutting_down = false;
  ASSERT_NE(feed.SubscribeToShutdown([&](bool) { ingest_woken.Notify(); }), 0u);
  ASSERT_NE(feed.Subscribe(
                [&](bool s) {
                  watch_shutting_down = s;
                  watch_woken.Notify();
                },
                feed.generation()),
            0u);
  feed.Shutdown();
  EXPECT_TRUE(ingest_woken.HasBeenNotified());  // Shutdown() wakes before it returns
  ASSERT_TRUE(watch_woken.HasBeenNotified());
  EXPECT_TRUE(watch_shutting_down);
  EXPECT_TRUE(feed.shutting_down());
  EXPECT_EQ(feed.Subscribe([](bool) {}, feed.generation()), 0u);
  EXPECT_EQ(feed.SubscribeToShutdown([](bool) {}), 0u);
}

TEST(ActivityFeedTest, PublishedDoesNotWakeShutdownOnlySubscribers) {
  ActivityFeed feed(kNoTick);
  absl::Notification woken;
  const uint64_t ticket = feed.SubscribeToShutdown([&](bool) { woken.Notify(); });
  feed.Published();
  EXPECT_FALSE(woken.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  EXPECT_TRUE(feed.Unsubscribe(ticket));
}

}  // namespace
}  // namespace crm::audit
