#include "common/db/row_fields.h"

#include <pqxx/pqxx>
#include <string>

#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

class RowFieldsTest : public crm::testing::PgTest {};

// A decoder reads the fields in any order, repeats some (IsNull, then the
// value), and asks for columns the result lacks: the answers must not depend
// on the order of the questions.
TEST_F(RowFieldsTest, ResolvesNamesInAnyOrder) {
  pqxx::connection conn(dsn_);
  pqxx::nontransaction tx(conn);
  const pqxx::result result = tx.exec(
      "SELECT n AS id, 'name ' || n AS name, CASE WHEN n = 2 THEN NULL ELSE n * 10 END "
      "AS score FROM generate_series(1, 3) AS n ORDER BY n");
  const ResultColumns columns(result);
  for (int i = 0; i < 3; ++i) {
    const pqxx::row row = result[i];  // RowFields keeps a pointer to it
    const RowFields f(row, &columns);
    const int64_t n = i + 1;
    // In select order, the same column twice, then backwards and a missing one.
    EXPECT_EQ(f.Int64("id"), n);
    EXPECT_EQ(f.Str("name"), "name " + std::to_string(n));
    EXPECT_EQ(f.IsNull("score"), n == 2);
    EXPECT_EQ(f.Int64("score"), n == 2 ? 0 : n * 10);
    EXPECT_TRUE(f.IsNull("absent"));
    EXPECT_EQ(f.Text("absent"), "");
    EXPECT_EQ(f.Str("name"), "name " + std::to_string(n));
    EXPECT_EQ(f.Int64("id"), n);
    EXPECT_EQ(f.Int64("score"), n == 2 ? 0 : n * 10);
  }
  EXPECT_EQ(columns.Find("id"), 0);
  EXPECT_EQ(columns.Find("score"), 2);
  EXPECT_EQ(columns.Find("score"), 2);
  EXPECT_EQ(columns.Find("name"), 1);
  EXPECT_EQ(columns.Find("nope"), -1);
  EXPECT_EQ(columns.Find("score"), 2);
}

}  // namespace
}  // namespace crm::db
