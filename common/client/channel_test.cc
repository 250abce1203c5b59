#include "common/client/channel.h"

#include "absl/time/clock.h"
#include "common/deadline/call_scope.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

absl::Duration Left(std::chrono::system_clock::time_point deadline) {
  return absl::FromChrono(deadline) - absl::Now();
}

TEST(OutgoingDeadlineTest, OutsideACallItIsTheCap) {
  const absl::Duration left = Left(OutgoingDeadline(absl::Seconds(3)));
  EXPECT_GT(left, absl::Milliseconds(2900));
  EXPECT_LE(left, absl::Seconds(3));
}

TEST(OutgoingDeadlineTest, InsideACallItIsWhatIsLeftOfTheCallsDeadline) {
  {
    CallScope scope(absl::Now() + absl::Milliseconds(200));
    const absl::Duration left = Left(OutgoingDeadline(absl::Seconds(3)));
    EXPECT_GT(left, absl::Milliseconds(100));
    EXPECT_LE(left, absl::Milliseconds(200));
  }
  {
    // A call with more time than the cap still gets the cap.
    CallScope scope(absl::Now() + absl::Seconds(60));
    EXPECT_LE(Left(OutgoingDeadline(absl::Seconds(3))), absl::Seconds(3));
  }
  {
    // A call already past its deadline makes calls that fail at once.
    CallScope scope(absl::Now() - absl::Seconds(1));
    EXPECT_LT(Left(OutgoingDeadline(absl::Seconds(3))), absl::ZeroDuration());
  }
}

}  // namespace
}  // namespace crm::client
