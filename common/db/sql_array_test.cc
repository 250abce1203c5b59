#include "common/db/sql_array.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

class ArrayLiteralTest : public crm::testing::PgTest {};

// What PostgreSQL reads back is exactly what was given, whatever the text.
TEST_F(ArrayLiteralTest, RoundTripsAnyTextThroughPostgres) {
  const std::vector<std::string> values = {
      "plain",     "",         "NULL",        "with \"quotes\"", "back\\slash",
      "{braces},", " spaced ", "line\nbreak", "ünïcödé ✓",       R"({"json": [1, "two"]})"};
  pqxx::connection conn(dsn_);
  pqxx::nontransaction tx(conn);
  const pqxx::result rows = tx.exec_params(
      "SELECT v, v IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
      ArrayLiteral(values));
  ASSERT_EQ(rows.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_FALSE(rows[i][1].as<bool>()) << i;
    EXPECT_EQ(rows[i][0].as<std::string>(), values[i]) << i;
  }
  EXPECT_EQ(
      tx.exec_params1("SELECT cardinality($1::text[])", ArrayLiteral(std::vector<std::string>{}))[0]
          .as<int>(),
      0);
  EXPECT_EQ(
      tx.exec_params1("SELECT cardinality($1::bigint[])", ArrayLiteral(std::vector<int64_t>{}))[0]
          .as<int>(),
      0);
  EXPECT_EQ(tx.exec_params1("SELECT sum(x)::text || '/' || count(*) FROM unnest($1::bigint[]) x",
                            ArrayLiteral(std::vector<int64_t>{1, -2, 9007199254740993}))[0]
                .as<std::string>(),
            "9007199254740992/3");
  EXPECT_EQ(tx.exec_params1("SELECT sum(x) FROM unnest($1::bigint[]) x",
                            ArrayLiteral({"1", "-2", "9007199254740993"}))[0]
                .as<std::string>(),
            "9007199254740992");
  EXPECT_EQ(
      tx.exec_params1("SELECT encode((($1::bytea[])[1]), 'hex')", ArrayLiteral({"\\x00ff10"}))[0]
          .as<std::string>(),
      "00ff10");
}

}  // namespace
}  // namespace crm::db
