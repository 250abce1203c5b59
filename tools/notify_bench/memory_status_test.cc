#include "tools/notify_bench/memory_status.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace crm::notify_bench {
namespace {

TEST(MemoryStatusTest, ParsesTheTwoFields) {
  absl::StatusOr<MemoryStatus> m = ParseMemoryStatus(
      "Name:\tcrm-notifications\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\n"
      "VmRSS:\t   32768 kB\nThreads:\t12\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rss_kib, 32768);
  EXPECT_EQ(m->hwm_kib, 40960);
}

TEST(MemoryStatusTest, MissingFieldsAreAnError) {
  EXPECT_EQ(ParseMemoryStatus("Name:\tkthreadd\nThreads:\t1\n").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(MemoryStatusTest, ReadsThisProcess) {
  absl::StatusOr<MemoryStatus> m = ReadMemoryStatus(getpid());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->rss_kib, 0);
  EXPECT_GE(m->hwm_kib, m->rss_kib);
}

TEST(MemoryStatusTest, AGoneProcessIsNotFound) {
  EXPECT_EQ(ReadMemoryStatus(0x7ffffff0).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crm::notify_bench
