#include "common/server/blocking_executor.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

TEST(BlockingExecutorTest, RunsEverySubmittedTask) {
  std::atomic<int> done{0};
  {
    BlockingExecutor executor(3, 100);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(executor.TrySubmit([&done] { ++done; }));
    }
  }  // the destructor drains the queue before joining
  EXPECT_EQ(done.load(), 50);
}

TEST(BlockingExecutorTest, RefusesWhenQueueIsFull) {
  absl::Notification release;
  absl::Notification started;
  BlockingExecutor executor(1, 2);
  ASSERT_TRUE(executor.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(executor.TrySubmit([] {}));
  EXPECT_TRUE(executor.TrySubmit([] {}));
  EXPECT_FALSE(executor.TrySubmit([] {}));
  release.Notify();
}

TEST(BlockingExecutorTest, AcceptsMoveOnlyTasks) {
  absl::Notification done;
  BlockingExecutor executor(1, 1);
  auto value = std::make_unique<int>(7);
  ASSERT_TRUE(executor.TrySubmit([value = std::move(value), &done] {
    EXPECT_EQ(*value, 7);
    done.Notify();
  }));
  done.WaitForNotification();
}

}  // namespace
}  // namespace crm::server
