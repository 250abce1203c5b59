#include "common/log/log.h"

#include <string>

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

}  // namespace
}  // namespace crm::log
