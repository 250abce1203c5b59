#include "common/log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::log {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(LogTest, WritesOneJsonObjectPerLine) {
  std::string out;
  CaptureForTesting(&out);
  SetServiceName("leads");
  Info("rpc")
      .Str("method", "/crm.leads.v1.LeadService/GetLead")
      .Int("code", 0)
      .Num("latency_ms", 1.5);
  CaptureForTesting(nullptr);
  EXPECT_THAT(out, StartsWith("{\"time\":\""));
  EXPECT_THAT(out, HasSubstr("\"level\":\"info\",\"msg\":\"rpc\""));
  EXPECT_THAT(out, HasSubstr("\"method\":\"/crm.leads.v1.LeadService/GetLead\",\"code\":0"));
  EXPECT_THAT(out, HasSubstr("\"latency_ms\":1.500"));
  EXPECT_THAT(out, HasSubstr("\"service\":\"leads\"}\n"));
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

TEST(LogTest, EscapesControlCharactersAndQuotes) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(LogTest, DropsLinesBelowMinimumLevel) {
  std::string out;
  CaptureForTesting(&out);
  SetMinLevel(Level::kWarning);
  Info("hidden");
  Warning("shown");
  SetMinLevel(Level::kInfo);
  CaptureForTesting(nullptr);
  EXPECT_THAT(out, ::testing::Not(HasSubstr("hidden")));
  EXPECT_THAT(out, HasSubstr("shown"));
}

// The real output path: lines from many threads reach stderr whole, none
// lost, none interleaved, once Flush returns.
TEST(LogTest, LinesFromManyThreadsReachStderrWholeAfterFlush) {
  char path[] = "/tmp/crm_log_test_XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(dup2(file, STDERR_FILENO), 0);
  constexpr int kThreads = 8;
  constexpr int kLines = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) {
        Info("line").Int("thread", t).Int("i", i).Str("pad", std::string(100, 'x'));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  Flush();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  std::vector<std::string> lines = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    ASSERT_THAT(line, StartsWith("{\"time\":\""));
    ASSERT_EQ(line.back(), '}') << line;
    int thread = -1;
    int i = -1;
    ASSERT_EQ(
        sscanf(line.c_str() + line.find("\"thread\":"), "\"thread\":%d,\"i\":%d", &thread, &i), 2)
        << line;
    // Each thread's lines keep their order.
    ASSERT_EQ(i, next[thread]) << line;
    ++next[thread];
  }
}

TEST(LogTest, TimeHasMillisecondsInUtc) {
  std::string out;
  CaptureForTesting(&out);
  Info("t");
  CaptureForTesting(nullptr);
  // {"time":"2026-12-01T08:34:31.388Z",...
  ASSERT_GT(out.size(), 35u);
  const std::string time = out.substr(9, 24);
  EXPECT_EQ(time.size(), 24u);
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time[23], 'Z');
}

}  // namespace
}  // namespace crm::log
