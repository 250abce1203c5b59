#include "common/pagination/keyset_page.h"

#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/type.pb.h"
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

// The wire-format finish: rows as google.protobuf.Type's repeated `fields`
// (field 2, a Field whose `number` is the row's id), the token as its `name`
// (field 1), so each page parses as a Type.
TEST(KeysetPageTest, FinishWireWalksEveryRowOnceWithinTheByteLimit) {
  const PageTokenCodec codec("0123456789abcdef0123456789abcdef");
  for (size_t padding : {size_t{0}, size_t{400'000}}) {
    std::string token;
    std::vector<int64_t> seen;
    std::vector<int> page_rows;
    do {
      absl::StatusOr<KeysetPage> page = KeysetPage::Begin(codec, "things|all", 4, token);
      ASSERT_TRUE(page.ok()) << page.status();
      const std::vector<Row> rows = Read(10, page->after(), page->fetch_limit());
      std::string bytes;
      page->FinishWire(
          rows.size(), 2, 1, &bytes,
          [&](size_t i, std::string* out) {
            google::protobuf::Field field;
            field.set_number(static_cast<int32_t>(rows[i].id));
            field.set_default_value(std::string(padding, 'x'));
            out->append(field.SerializeAsString());
          },
          [&](size_t i) { return rows[i].id; });
      google::protobuf::Type parsed;
      ASSERT_TRUE(parsed.ParseFromString(bytes));
      for (const google::protobuf::Field& f : parsed.fields()) {
        seen.push_back(f.number());
      }
      page_rows.push_back(parsed.fields_size());
      token = parsed.name();
    } while (!token.empty() && page_rows.size() < 20);
    EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})) << padding;
    // 4 a page by count; 2 of 400 kB under the 1 MiB limit.
    const std::vector<int> expected =
        padding == 0 ? std::vector<int>{4, 4, 2} : std::vector<int>{2, 2, 2, 2, 2};
    EXPECT_EQ(page_rows, expected) << padding;
  }
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

// Two keys (a time, then the id for ties), and rows the conversion consumes.
TEST(KeysetPageTest, PagesByTwoKeysAndMayMoveRowsIntoTheResponse) {
  const PageTokenCodec codec("0123456789abcdef0123456789abcdef");
  struct Timed {
    int64_t time;
    int64_t id;
    std::string name;
  };
  // Ordered by (time, id) ascending; times tie.
  const std::vector<Timed> table = {
      {10, 3, "c"}, {10, 4, "d"}, {20, 1, "a"}, {20, 2, "b"}, {30, 5, "e"}};
  std::string token;
  std::vector<std::string> seen;
  int pages = 0;
  do {
    absl::StatusOr<KeysetPage> page = KeysetPage::BeginKeys(codec, "timed", 2, token, 2);
    ASSERT_TRUE(page.ok()) << page.status();
    std::vector<Timed> rows;
    for (const Timed& row : table) {
      const auto& after = page->after_keys();
      if ((!after || std::pair(row.time, row.id) > std::pair((*after)[0], (*after)[1])) &&
          static_cast<int>(rows.size()) < page->fetch_limit()) {
        rows.push_back(row);
      }
    }
    google::protobuf::RepeatedPtrField<Value> out;
    token = page->Finish(
        rows, &out, [](Timed& row, Value* v) { v->set_string_value(std::move(row.name)); },
        [](const Timed& row) {
          return std::vector<int64_t>{row.time, row.id};
        });
    for (const Value& v : out) {
      seen.push_back(v.string_value());
    }
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"c", "d", "a", "b", "e"}));
  EXPECT_EQ(pages, 3);
  // A two-key token is not a one-key page's.
  absl::StatusOr<KeysetPage> first = KeysetPage::BeginKeys(codec, "timed", 2, "", 2);
  ASSERT_TRUE(first.ok());
  google::protobuf::RepeatedPtrField<Value> out;
  std::vector<Timed> rows(table.begin(), table.begin() + 3);
  const std::string two = first->Finish(
      rows, &out, [](const Timed& row, Value* v) { v->set_string_value(row.name); },
      [](const Timed& row) {
        return std::vector<int64_t>{row.time, row.id};
      });
  EXPECT_EQ(KeysetPage::Begin(codec, "timed", 2, two).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::pagination
