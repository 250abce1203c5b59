#include "common/pagination/page_fill.h"

#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace crm::pagination {
namespace {

using google::protobuf::Value;

void ToValue(const std::string& row, Value* v) { v->set_string_value(row); }

TEST(AppendPageTest, StopsAtThePageSizeAndSaysWhetherMoreRemain) {
  const std::vector<std::string> rows = {"a", "b", "c", "d"};  // page size 3, plus one
  google::protobuf::RepeatedPtrField<Value> out;
  const PageEnd end = AppendPage(rows, 3, kMaxPageBytes, &out, ToValue);
  EXPECT_EQ(end.taken, 3u);
  EXPECT_TRUE(end.more);
  EXPECT_EQ(out.size(), 3);

  google::protobuf::RepeatedPtrField<Value> last;
  const PageEnd all =
      AppendPage(std::vector<std::string>{"a", "b"}, 3, kMaxPageBytes, &last, ToValue);
  EXPECT_EQ(all.taken, 2u);
  EXPECT_FALSE(all.more);
}

TEST(AppendPageTest, StopsAtTheByteBudgetButAlwaysTakesOneRow) {
  const std::vector<std::string> rows(10, std::string(400, 'x'));
  google::protobuf::RepeatedPtrField<Value> out;
  const PageEnd end = AppendPage(rows, 50, 1000, &out, ToValue);
  EXPECT_EQ(end.taken, 2u);  // ~406 bytes each
  EXPECT_TRUE(end.more);
  EXPECT_EQ(out.size(), 2);

  google::protobuf::RepeatedPtrField<Value> one;
  const PageEnd huge =
      AppendPage(std::vector<std::string>{std::string(5000, 'y'), "z"}, 50, 1000, &one, ToValue);
  EXPECT_EQ(huge.taken, 1u);
  EXPECT_TRUE(huge.more);
}

}  // namespace
}  // namespace crm::pagination
