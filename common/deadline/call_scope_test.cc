#include "common/deadline/call_scope.h"

#include <thread>

#include "gtest/gtest.h"

namespace crm {
namespace {

TEST(CallScopeTest, OutsideAnyScopeNothingExpires) {
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
  EXPECT_FALSE(CurrentCallCancelled());
  EXPECT_TRUE(CheckCallAlive().ok());
}

TEST(CallScopeTest, ScopesNestAndEnd) {
  const absl::Time now = absl::Now();
  {
    CallScope outer(now + absl::Seconds(10));
    EXPECT_EQ(CurrentDeadline(), now + absl::Seconds(10));
    {
      bool cancelled = false;
      CallScope inner(now + absl::Seconds(1), [&cancelled] { return cancelled; });
      EXPECT_EQ(CurrentDeadline(), now + absl::Seconds(1));
      EXPECT_TRUE(CheckCallAlive(now).ok());
      EXPECT_EQ(CheckCallAlive(now + absl::Seconds(1)).code(), absl::StatusCode::kDeadlineExceeded);
      cancelled = true;
      EXPECT_EQ(CheckCallAlive(now).code(), absl::StatusCode::kCancelled);
    }
    EXPECT_EQ(CurrentDeadline(), now + absl::Seconds(10));
    EXPECT_FALSE(CurrentCallCancelled());
  }
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
}

TEST(CallScopeTest, IsPerThread) {
  CallScope scope(absl::InfinitePast());
  EXPECT_FALSE(CheckCallAlive().ok());
  std::thread other([] { EXPECT_TRUE(CheckCallAlive().ok()); });
  other.join();
}

}  // namespace
}  // namespace crm
