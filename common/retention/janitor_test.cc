#include "common/retention/janitor.h"

#include <pqxx/pqxx>

#include "common/testing/pg_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::retention {
namespace {

class JanitorTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    pqxx::connection conn(dsn_);
    pqxx::work tx(conn);
    tx.exec(
        "CREATE TABLE results (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "created_at TIMESTAMPTZ NOT NULL)");
    tx.exec(
        "INSERT INTO results (created_at) SELECT now() - interval '2 days' FROM "
        "generate_series(1, 1234)");
    tx.exec("INSERT INTO results (created_at) SELECT now() FROM generate_series(1, 10)");
    tx.commit();
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.dsn = dsn_, .size = 2, .statements = {}});
  }

  int64_t Count() {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    return tx.exec1("SELECT count(*) FROM results")[0].as<int64_t>();
  }

  static constexpr char kPurge[] =
      "DELETE FROM results WHERE id IN (SELECT id FROM results "
      "WHERE created_at < now() - make_interval(secs => $2) ORDER BY id LIMIT $1)";

  std::unique_ptr<db::Pool> pool_;
};

TEST_F(JanitorTest, DeletesTheBacklogInSmallBatchesAndKeepsLiveRows) {
  Janitor janitor({.batch = 100});
  int batches = 0;
  PurgeTask sql = SqlPurge(pool_.get(), "results", kPurge, absl::Hours(24));
  janitor.Add({.name = "results", .run = [&](int batch) {
                 ++batches;
                 EXPECT_EQ(batch, 100);
                 return sql.run(batch);
               }});
  EXPECT_THAT(janitor.RunOnce(), ::testing::ElementsAre(::testing::Pair("results", 1234)));
  EXPECT_EQ(batches, 13);  // 12 full batches and the remainder
  EXPECT_EQ(Count(), 10);
  EXPECT_THAT(janitor.deleted(), ::testing::ElementsAre(::testing::Pair("results", 1234)));
  EXPECT_THAT(janitor.RunOnce(), ::testing::ElementsAre(::testing::Pair("results", 0)));
}

TEST_F(JanitorTest, ARunIsBoundedAndTheNextGoesOn) {
  Janitor janitor({.batch = 100, .max_batches_per_run = 5});
  janitor.Add(SqlPurge(pool_.get(), "results", kPurge, absl::Hours(24)));
  EXPECT_EQ(janitor.RunOnce()["results"], 500);
  EXPECT_EQ(janitor.RunOnce()["results"], 500);
  EXPECT_EQ(janitor.RunOnce()["results"], 234);
}

TEST_F(JanitorTest, AFailingTaskDoesNotStopTheOthers) {
  Janitor janitor({.batch = 100});
  janitor.Add(SqlPurge(pool_.get(), "broken",
                       "DELETE FROM no_such_table WHERE $1::int > 0 AND $2::float8 > 0",
                       absl::Hours(24)));
  janitor.Add(SqlPurge(pool_.get(), "results", kPurge, absl::Hours(24)));
  std::map<std::string, int64_t> counts = janitor.RunOnce();
  EXPECT_EQ(counts["broken"], 0);
  EXPECT_EQ(counts["results"], 1234);
}

TEST_F(JanitorTest, StartRunsAtOnceAndStopJoins) {
  Janitor janitor({.interval = absl::Hours(1), .batch = 1000});
  janitor.Add(SqlPurge(pool_.get(), "results", kPurge, absl::Hours(24)));
  janitor.Start();
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (janitor.deleted()["results"] < 1234 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(janitor.deleted()["results"], 1234);
  janitor.Stop();  // returns although the next run is an hour away
  janitor.Stop();
  EXPECT_EQ(Count(), 10);
}

}  // namespace
}  // namespace crm::retention
