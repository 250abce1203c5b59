#include "common/fields/text_checks.h"

#include <string>

#include "gtest/gtest.h"

namespace crm::fields {
namespace {

constexpr auto kOk = absl::StatusCode::kOk;
constexpr auto kBad = absl::StatusCode::kInvalidArgument;

// The services' own field checks (leads' names, emails, phones) are tested
// with them; these are the generic rules as such.
TEST(TextChecksTest, LinesAreTrimmedBoundedAndRequiredWhenAsked) {
  EXPECT_EQ(CheckLine("  Springfield ", "city", true, 11).code(), kOk);
  EXPECT_EQ(CheckLine("   ", "city", true, 10).code(), kBad);
  EXPECT_EQ(CheckLine("   ", "city", false, 10).code(), kOk);
  EXPECT_EQ(CheckLine("Ünïcödé", "city", true, 7).code(), kOk);  // characters, not bytes
  EXPECT_EQ(CheckLine("Ünïcödé!", "city", true, 7).code(), kBad);
  EXPECT_EQ(CheckLine("a\nb", "city", true, 10).code(), kBad);
  EXPECT_EQ(CheckLine("\xC3", "city", true, 10).code(), kBad);
  const absl::Status s = CheckLine("", "address.city", true, 10);
  EXPECT_NE(s.message().find("address.city"), std::string::npos) << s;
}

TEST(TextChecksTest, TokensArePrintableAsciiWithoutSpaces) {
  EXPECT_EQ(CheckToken("ML81234567", "mls_id", true, 50).code(), kOk);
  EXPECT_EQ(CheckToken("", "mls_id", true, 50).code(), kBad);
  EXPECT_EQ(CheckToken("", "listing_key", false, 50).code(), kOk);
  EXPECT_EQ(CheckToken("ML 1", "mls_id", true, 50).code(), kBad);
  EXPECT_EQ(CheckToken("ML\t1", "mls_id", true, 50).code(), kBad);
  EXPECT_EQ(CheckToken("MLé", "mls_id", true, 50).code(), kBad);
  EXPECT_EQ(CheckToken(std::string(50, 'x'), "mls_id", true, 50).code(), kOk);
  EXPECT_EQ(CheckToken(std::string(51, 'x'), "mls_id", true, 50).code(), kBad);
}

TEST(TextChecksTest, TextAllowsLineBreaksButNoOtherControls) {
  EXPECT_EQ(CheckText("Sunny.\r\n\tNew roof.", "description", 100).code(), kOk);
  EXPECT_EQ(CheckText("bell\a", "description", 100).code(), kBad);
  EXPECT_EQ(CheckText(std::string(101, 'x'), "description", 100).code(), kBad);
  EXPECT_EQ(Utf8Length("José"), 4u);
  EXPECT_EQ(Utf8Length("\xED\xA0\x80"), std::nullopt);  // a surrogate
}

}  // namespace
}  // namespace crm::fields
