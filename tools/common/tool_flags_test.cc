#include "tools/common/tool_flags.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

ABSL_FLAG(int32_t, tool_flags_test_count, 1, "a number");
ABSL_FLAG(bool, tool_flags_test_verbose, false, "a switch");

namespace crm::tools {
namespace {

// argv as main() gets it (the strings must outlive the check).
class Args {
 public:
  explicit Args(std::vector<std::string> args) : strings_(std::move(args)) {
    strings_.insert(strings_.begin(), "tool");
    for (std::string& s : strings_) {
      argv_.push_back(s.data());
    }
  }
  int argc() const { return static_cast<int>(argv_.size()); }
  char** argv() { return argv_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> argv_;
};

// The positional arguments as strings: the char pointers point into Args,
// which is gone when this returns.
absl::StatusOr<std::vector<std::string>> Check(std::vector<std::string> args, bool positional) {
  Args a(std::move(args));
  absl::StatusOr<std::vector<char*>> checked = CheckFlagArguments(a.argc(), a.argv(), positional);
  if (!checked.ok()) {
    return checked.status();
  }
  return std::vector<std::string>(checked->begin(), checked->end());
}

TEST(ToolFlagsTest, KnownFlagsPassAndSetTheirValues) {
  EXPECT_TRUE(Check({"--tool_flags_test_count=7", "--tool_flags_test_verbose"}, false).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_tool_flags_test_count), 7);
  EXPECT_TRUE(absl::GetFlag(FLAGS_tool_flags_test_verbose));
  EXPECT_TRUE(Check({"--tool_flags_test_count", "9", "--notool_flags_test_verbose"}, false).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_tool_flags_test_count), 9);
}

TEST(ToolFlagsTest, AnUnknownFlagIsNamed) {
  absl::StatusOr<std::vector<std::string>> checked = Check({"--no_such_flag=1"}, false);
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checked.status().message(), "unknown flag --no_such_flag (see --help)");
}

TEST(ToolFlagsTest, AValueThatDoesNotParseIsNamed) {
  absl::StatusOr<std::vector<std::string>> checked = Check({"--tool_flags_test_count=many"}, false);
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(checked.status().message(), "--tool_flags_test_count"))
      << checked.status();
  EXPECT_EQ(Check({"--tool_flags_test_count"}, false).status().message(),
            "--tool_flags_test_count needs a value");
}

TEST(ToolFlagsTest, PositionalArgumentsOnlyWhereAllowed) {
  EXPECT_EQ(Check({"file.json"}, false).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<std::string>> checked = Check({"file.json", "--", "-"}, true);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->size(), 2u);
  EXPECT_EQ((*checked)[0], "file.json");
  EXPECT_EQ((*checked)[1], "-");
}

TEST(ToolFlagsTest, AbseilsOwnFlagsAreLeftToIt) {
  EXPECT_TRUE(Check({"--helpfull", "--version"}, false).ok());
}

}  // namespace
}  // namespace crm::tools
