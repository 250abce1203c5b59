#include "tools/listings/import_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::listings {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(ProgressTextTest, BarPercentageGroupedCountsRateAndEta) {
  // A quarter read in 10 s: 30 s to go at that pace.
  EXPECT_EQ(ProgressText(1234, 250, 1000, absl::Seconds(10), /*bar=*/true),
            "[######..................]  25% 1,234 records, 123/s, ETA 30s");
  EXPECT_EQ(ProgressText(1234, 250, 1000, absl::Seconds(10), /*bar=*/false),
            " 25% 1,234 records, 123/s, ETA 30s");
  EXPECT_EQ(ProgressText(12'345'678, 500, 1000, absl::Seconds(1), /*bar=*/false),
            " 50% 12,345,678 records, 12,345,678/s, ETA 1s");
  // Longer waits in minutes and hours.
  EXPECT_THAT(ProgressText(100, 125, 1000, absl::Seconds(15), /*bar=*/false),
              EndsWith(", ETA 1m45s"));
  EXPECT_THAT(ProgressText(100, 15'625, 1'000'000, absl::Seconds(64), /*bar=*/false),
              EndsWith(", ETA 1h07m"));
  // The bar is full at the end, empty at the start.
  EXPECT_THAT(ProgressText(5, 1000, 1000, absl::Seconds(2), /*bar=*/true),
              StartsWith("[########################] 100% 5 records"));
  EXPECT_THAT(ProgressText(0, 0, 1000, absl::Seconds(2), /*bar=*/true),
              StartsWith("[........................]   0% 0 records, 0/s"));
}

TEST(ProgressTextTest, ElapsedTimeUnlessTheFractionIsKnownAndUnderway) {
  // Unknown size (standard input): neither bar nor percentage nor ETA.
  EXPECT_EQ(ProgressText(1234, 5000, 0, absl::Seconds(75), /*bar=*/true),
            "1,234 records, 16/s, 1m15s");
  // Not yet 1%: an ETA would be noise.
  EXPECT_EQ(ProgressText(10, 10, 1000, absl::Seconds(5), /*bar=*/false),
            "  1% 10 records, 2/s, 5s");
  EXPECT_EQ(ProgressText(10, 5, 1000, absl::Seconds(5), /*bar=*/false), "  0% 10 records, 2/s, 5s");
  // Done: the time it took.
  EXPECT_EQ(ProgressText(2000, 1000, 1000, absl::Seconds(3725), /*bar=*/false),
            "100% 2,000 records, 1/s, 1h02m");
  // Just started: no rate to extrapolate from yet.
  EXPECT_EQ(ProgressText(0, 500, 1000, absl::ZeroDuration(), /*bar=*/false),
            " 50% 0 records, 0/s, 0s");
  // More bytes than the size said (a file that grew): capped at 100%.
  EXPECT_THAT(ProgressText(7, 1500, 1000, absl::Seconds(1), /*bar=*/true),
              StartsWith("[########################] 100% 7 records"));
}

TEST(ParseProgressStyleTest, AllFourAndAnErrorNamingTheFlag) {
  EXPECT_EQ(*ParseProgressStyle("auto"), ProgressStyle::kAuto);
  EXPECT_EQ(*ParseProgressStyle("bar"), ProgressStyle::kBar);
  EXPECT_EQ(*ParseProgressStyle("lines"), ProgressStyle::kLines);
  EXPECT_EQ(*ParseProgressStyle("none"), ProgressStyle::kNone);
  for (const char* bad : {"", "Bar", "line", "quiet"}) {
    absl::StatusOr<ProgressStyle> style = ParseProgressStyle(bad);
    ASSERT_FALSE(style.ok()) << bad;
    EXPECT_EQ(style.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(style.status().message());
    EXPECT_THAT(message, StartsWith("--progress: "));
    EXPECT_THAT(message, HasSubstr(absl::StrCat("\"", bad, "\"")));
  }
}

// A file the display writes through its own FILE, read back by path while
// the display's thread may still be writing.
class ProgressFile {
 public:
  ProgressFile() {
    char path[] = "/tmp/crm-import-progress-XXXXXX";
    const int fd = mkstemp(path);
    path_ = path;
    file_ = fd >= 0 ? fdopen(fd, "w") : nullptr;
  }
  ~ProgressFile() {
    if (file_ != nullptr) {
      fclose(file_);
    }
    unlink(path_.c_str());
  }
  FILE* get() const { return file_; }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
  FILE* file_ = nullptr;
};

TEST(ImportProgressTest, LinesEndWithTheFinalCountsOnStop) {
  ProgressFile out;
  ASSERT_NE(out.get(), nullptr);
  ImportProgress progress(ProgressStyle::kLines, 1000, out.get());
  progress.Start();
  progress.AddRecords(1000);
  progress.AddRecords(500);
  progress.bytes()->store(1000);
  progress.Stop();
  const std::string text = out.Contents();
  EXPECT_THAT(text, StartsWith("import: 100% 1,500 records, "));
  EXPECT_THAT(text, EndsWith("\n"));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  EXPECT_THAT(text, Not(HasSubstr("[")));  // no bar in a log
  // Stopping again draws nothing more.
  progress.Stop();
  EXPECT_EQ(out.Contents(), text);
}

TEST(ImportProgressTest, AutoOnAFileThatIsNoTerminalWritesLines) {
  ProgressFile out;
  ASSERT_NE(out.get(), nullptr);
  {
    ImportProgress progress(ProgressStyle::kAuto, 0, out.get());
    progress.Start();
    progress.AddRecords(42);
    // Destroyed without Stop: the final line is still drawn.
  }
  const std::string text = out.Contents();
  EXPECT_THAT(text, StartsWith("import: 42 records, "));
  EXPECT_THAT(text, EndsWith("\n"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(ImportProgressTest, BarRedrawsInPlaceAndEndsTheLineOnStop) {
  ProgressFile out;
  ASSERT_NE(out.get(), nullptr);
  ImportProgress progress(ProgressStyle::kBar, 1000, out.get());
  progress.Start();
  progress.AddRecords(100);
  progress.bytes()->store(100);
  // Frames come every 200 ms; wait for two, or give up after a while.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string text;
  while (absl::Now() < deadline) {
    text = out.Contents();
    if (std::count(text.begin(), text.end(), '\r') >= 2) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(std::count(text.begin(), text.end(), '\r'), 2) << text;
  EXPECT_THAT(text, Not(HasSubstr("\n")));  // the line stays open while it runs
  EXPECT_THAT(text, StartsWith("\r[##......................]  10% 100 records, "));
  progress.AddRecords(900);
  progress.bytes()->store(1000);
  progress.Stop();
  text = out.Contents();
  EXPECT_THAT(text, EndsWith("\n"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const std::string last = text.substr(text.rfind('\r') + 1);
  EXPECT_THAT(last, StartsWith("[########################] 100% 1,000 records, "));
  EXPECT_THAT(text, Not(HasSubstr("import:")));
}

TEST(ImportProgressTest, NoneWritesNothing) {
  ProgressFile out;
  ASSERT_NE(out.get(), nullptr);
  ImportProgress progress(ProgressStyle::kNone, 1000, out.get());
  progress.Start();
  progress.AddRecords(10);
  progress.bytes()->store(1000);
  absl::SleepFor(absl::Milliseconds(300));
  progress.Stop();
  EXPECT_EQ(out.Contents(), "");
}

}  // namespace
}  // namespace crm::listings
