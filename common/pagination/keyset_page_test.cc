#include "common/pagination/keyset_page.h"

#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace crm::pagination {
namespace {

using google::protobuf::Value;

struct Row {
  int64_t id;
};

void ToValue(const Row& row, Value* v) { v->set_number_value(static_cast<double>(row.id)); }
int64_t IdOf(const Row& row) { return row.id; }

// Reads "the table" (ids 1..n, ascending) as a repository would.
std::vector<Row> Read(int n, std::optional<int64_t> after, int limit) {
  std::vector<Row> rows;
  for (int64_t id = after.value_or(0) + 1; id <= n && static_cast<int>(rows.size()) < limit; ++id) {
    rows.push_back({id});
  }
  return rows;
}

TEST(KeysetPageTest, WalksEveryRowOnceAndEndsWithAnEmptyToken) {
  const PageTokenCodec codec("0123456789abcdef0123456789abcdef");
  std::string token;
  std::vector<int64_t> seen;
  int pages = 0;
  do {
    absl::StatusOr<KeysetPage> page = KeysetPage::Begin(codec, "things|all", 3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->fetch_limit(), 4);
    google::protobuf::RepeatedPtrField<Value> out;
    token = page->Finish(Read(10, page->after(), page->fetch_limit()), &out, ToValue, IdOf);
    for (const Value& v : out) {
      seen.push_back(static_cast<int64_t>(v.number_value()));
    }
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(KeysetPageTest, RefusesABadSizeAndAnotherQuerysToken) {
  const PageTokenCodec codec("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(KeysetPage::Begin(codec, "things|all", -1, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<KeysetPage> first = KeysetPage::Begin(codec, "things|all", 2, "");
  ASSERT_TRUE(first.ok());
  google::protobuf::RepeatedPtrField<Value> out;
  const std::string token = first->Finish(Read(5, std::nullopt, 3), &out, ToValue, IdOf);
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(KeysetPage::Begin(codec, "things|mine", 2, token).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<KeysetPage> next = KeysetPage::Begin(codec, "things|all", 0, token);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->after(), 2);
  EXPECT_EQ(next->page_size(), kDefaultPageSize);
}

}  // namespace
}  // namespace crm::pagination
