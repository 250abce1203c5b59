#include "services/auth/user_validation.h"

#include "gtest/gtest.h"

namespace crm::auth {
namespace {

TEST(UserValidationTest, NormalisesEmails) {
  EXPECT_EQ(*NormalizeEmail("  Jane.Doe@Example.COM ", "email"), "jane.doe@example.com");
  EXPECT_EQ(*NormalizeEmail("a+tag@sub.example.co.uk", "email"), "a+tag@sub.example.co.uk");
}

TEST(UserValidationTest, RefusesMalformedEmailsNamingTheField) {
  for (const char* email : {"", "plain", "@example.com", "a@", "a@b", "a@.com", "a@b.", "a b@c.com",
                            "a@@b.com", "a@b..com", "a@b\x01.com"}) {
    auto result = NormalizeEmail(email, "user.email");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << email;
  }
  EXPECT_NE(std::string(NormalizeEmail("x", "user.email").status().message()).find("user.email"),
            std::string::npos);
  EXPECT_FALSE(NormalizeEmail(std::string(90, 'a') + "@example.com", "email").ok());
}

TEST(UserValidationTest, NamesAreOneToHundredCharacters) {
  EXPECT_EQ(*ValidateName("  Ana  ", "user.name"), "Ana");
  EXPECT_FALSE(ValidateName("   ", "user.name").ok());
  EXPECT_TRUE(ValidateName(std::string(100, 'n'), "user.name").ok());
  EXPECT_FALSE(ValidateName(std::string(101, 'n'), "user.name").ok());
  EXPECT_FALSE(ValidateName("bad\x01name", "user.name").ok());
}

}  // namespace
}  // namespace crm::auth
