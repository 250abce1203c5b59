#include "common/db/where_clause.h"

#include "gtest/gtest.h"

namespace crm::db {
namespace {

TEST(PrefixTsQueryTest, EveryWordAPrefixLowerCased) {
  EXPECT_EQ(PrefixTsQuery("Maple sp"), "'maple':* & 'sp':*");
  EXPECT_EQ(PrefixTsQuery("  DM1000  "), "'dm1000':*");
  EXPECT_EQ(PrefixTsQuery("ml-l2, 62704"), "'ml':* & 'l2':* & '62704':*");
  EXPECT_EQ(PrefixTsQuery("Café"), "'caf\xc3\xa9':*");  // UTF-8 letters stay in the word
}

TEST(PrefixTsQueryTest, NothingOfTheInputIsSyntax) {
  EXPECT_EQ(PrefixTsQuery(""), "");
  EXPECT_EQ(PrefixTsQuery("%' & !:* | ( ) <-> \\"), "");
  EXPECT_EQ(PrefixTsQuery("o'brien"), "'o':* & 'brien':*");
  EXPECT_EQ(PrefixTsQuery("a&b|!c"), "'a':* & 'b':* & 'c':*");
}

TEST(PrefixTsQueryTest, AtMostMaxWords) { EXPECT_EQ(PrefixTsQuery("a b c d", 2), "'a':* & 'b':*"); }

TEST(WhereClauseTest, NumbersParametersInOrder) {
  WhereClause where;
  where.AddSql("deleted_at IS NULL");
  where.Add("status = ", "ACTIVE", "::text");
  where.Add({"(price, id) < (", "::numeric, ", "::int8)"}, {"5", "7"});
  EXPECT_EQ(where.sql(),
            " WHERE deleted_at IS NULL AND status = $1::text AND (price, id) < ($2::numeric, "
            "$3::int8)");
  EXPECT_EQ(where.params(), (std::vector<std::string>{"ACTIVE", "5", "7"}));
  EXPECT_EQ(where.NextParam(), "$4");
}

}  // namespace
}  // namespace crm::db
