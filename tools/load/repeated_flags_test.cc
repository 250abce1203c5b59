#include "tools/load/repeated_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::ElementsAre;

struct Argv {
  explicit Argv(std::vector<std::string> args) : strings(std::move(args)) {
    for (std::string& s : strings) {
      pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    argc = static_cast<int>(strings.size());
  }
  std::vector<std::string> Remaining() const {
    return std::vector<std::string>(pointers.begin(), pointers.begin() + argc);
  }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
  int argc;
};

TEST(TakeRepeatedFlagsTest, TakesEveryFormInOrder) {
  Argv a({"crm-load", "--data={\"a\":1,\"b\":2}", "--target=x:1", "-data", "{}", "--metadata=k: v",
          "--data_file=f", "--param", "{n}", "--metadata", "a: b", "--", "--data=z"});
  auto values = TakeRepeatedFlags(a.argc, a.pointers.data(), {"data", "metadata", "param"});
  EXPECT_THAT(values["data"], ElementsAre("{\"a\":1,\"b\":2}", "{}"));
  EXPECT_THAT(values["metadata"], ElementsAre("k: v", "a: b"));
  EXPECT_THAT(values["param"], ElementsAre("{n}"));
  EXPECT_THAT(a.Remaining(),
              ElementsAre("crm-load", "--target=x:1", "--data_file=f", "--", "--data=z"));
  EXPECT_EQ(a.pointers[a.argc], nullptr);
}

TEST(TakeRepeatedFlagsTest, MissingValueIsLeftForAbseil) {
  Argv a({"crm-load", "--data"});
  auto values = TakeRepeatedFlags(a.argc, a.pointers.data(), {"data"});
  EXPECT_TRUE(values["data"].empty());
  EXPECT_THAT(a.Remaining(), ElementsAre("crm-load", "--data"));
}

}  // namespace
}  // namespace crm::load
