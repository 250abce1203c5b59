#include "common/pagination/page_token.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::pagination {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const PageTokenCodec& Codec() {
  static const PageTokenCodec* codec = new PageTokenCodec("0123456789abcdef0123456789abcdef");
  return *codec;
}

TEST(PageTokenTest, RoundTripsKeys) {
  std::string token = Codec().Encode("leads|status=NEW", {"2026-11-25T00:00:00Z", "42", ""});
  auto keys = Codec().Decode(token, "leads|status=NEW");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_THAT(*keys, ElementsAre("2026-11-25T00:00:00Z", "42", ""));
}

TEST(PageTokenTest, IdTokensRoundTripAndRefuseOtherKeys) {
  auto id = Codec().DecodeId(Codec().EncodeId("users", 9007199254740993), "users");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 9007199254740993);
  auto first = Codec().DecodeId("", "users");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, std::nullopt);
  for (const std::vector<std::string>& keys :
       {std::vector<std::string>{"x"}, std::vector<std::string>{"1", "2"}}) {
    EXPECT_EQ(Codec().DecodeId(Codec().Encode("users", keys), "users").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Codec().DecodeId(Codec().EncodeId("users", 1), "leads").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, IntegerKeysRoundTripOnlyAtTheirCount) {
  const std::vector<int64_t> keys = {1764547200000001, -5, 42};
  const std::string token = Codec().EncodeInts("leads", keys);
  auto decoded = Codec().DecodeInts(token, "leads", 3);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ(**decoded, keys);
  for (size_t count : {size_t{1}, size_t{2}, size_t{4}}) {
    EXPECT_EQ(Codec().DecodeInts(token, "leads", count).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Codec().DecodeInts(Codec().Encode("leads", {"1", "x"}), "leads", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  // One key is the id token.
  auto id = Codec().DecodeId(Codec().EncodeInts("leads", {7}), "leads");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 7);
  auto first = Codec().DecodeInts("", "leads", 2);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
}

TEST(PageTokenTest, EmptyTokenIsFirstPage) {
  auto keys = Codec().Decode("", "anything");
  ASSERT_TRUE(keys.ok());
  EXPECT_THAT(*keys, IsEmpty());
}

TEST(PageTokenTest, TokenIsOpaqueAndUrlSafe) {
  std::string token = Codec().Encode("q", {"agent@example.com"});
  EXPECT_EQ(token.find("agent"), std::string::npos);
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos);
}

TEST(PageTokenTest, RefusedForAnotherQuery) {
  std::string token = Codec().Encode("leads|status=NEW", {"42"});
  auto keys = Codec().Decode(token, "leads|status=CLOSED_WON");
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(keys.status().message()), ::testing::HasSubstr("page_token"));
}

TEST(PageTokenTest, RefusedWhenAnyByteIsChanged) {
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(Codec().Encode("q", {"42"}), &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] ^= 0x01;
    EXPECT_EQ(Codec().Decode(absl::WebSafeBase64Escape(tampered), "q").status().code(),
              absl::StatusCode::kInvalidArgument)
        << "byte " << i;
  }
}

TEST(PageTokenTest, RefusedFromAnotherSecret) {
  PageTokenCodec other("another secret, also 32 bytes...");
  EXPECT_EQ(other.Decode(Codec().Encode("q", {"42"}), "q").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, GarbageIsInvalidArgument) {
  for (const char* token : {"!!!", "AAAA", "not-a-token", "_"}) {
    EXPECT_EQ(Codec().Decode(token, "q").status().code(), absl::StatusCode::kInvalidArgument)
        << token;
  }
  EXPECT_EQ(Codec().Decode(std::string(10000, 'A'), "q").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, RandomSecretWhenNoFile) {
  auto a = PageTokenCodec::FromFile("");
  auto b = PageTokenCodec::FromFile("");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(b->Decode(a->Encode("q", {"1"}), "q").ok());
}

TEST(PageTokenTest, MissingSecretFileIsAnError) {
  EXPECT_EQ(PageTokenCodec::FromFile("/nonexistent/secret").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PageSizeTest, DefaultsClampsAndRejectsNegative) {
  EXPECT_EQ(*NormalizePageSize(0), kDefaultPageSize);
  EXPECT_EQ(*NormalizePageSize(10), 10);
  EXPECT_EQ(*NormalizePageSize(1000), 1000);
  EXPECT_EQ(*NormalizePageSize(5000), kMaxPageSize);
  EXPECT_EQ(NormalizePageSize(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::pagination
