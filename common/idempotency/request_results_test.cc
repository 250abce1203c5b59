#include "common/idempotency/request_results.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/db/pool.h"
#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::idempotency {
namespace {

class RequestResultsTest : public crm::testing::PgTest {
 protected:
  std::unique_ptr<db::Pool> OpenPool() {
    return std::make_unique<db::Pool>(
        db::PoolOptions{.dsn = dsn_, .size = 2, .statements = Statements()});
  }

  void Migrate() {
    absl::Status migrated = db::ApplyMigrations(dsn_, Migrations());
    ASSERT_TRUE(migrated.ok()) << migrated;
  }
};

TEST_F(RequestResultsTest, RetryFindsTheFirstResultPerCallerAndMethod) {
  Migrate();
  std::unique_ptr<db::Pool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Transact([](pqxx::work& tx) {
                    EXPECT_FALSE(Begin(tx, 7, "CreateLead", "r1").has_value());
                    Remember(tx, 7, "CreateLead", "r1", {.resource_id = 42, .outcome = "merged"});
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(pool->Transact([](pqxx::work& tx) {
                    std::optional<Result> done = Begin(tx, 7, "CreateLead", "r1");
                    EXPECT_TRUE(done.has_value());
                    if (done.has_value()) {
                      EXPECT_EQ(done->resource_id, 42);
                      EXPECT_EQ(done->outcome, "merged");
                    }
                    EXPECT_FALSE(Begin(tx, 8, "CreateLead", "r1").has_value());  // other caller
                    EXPECT_FALSE(Begin(tx, 7, "UpdateLead", "r1").has_value());  // other method
                    EXPECT_FALSE(Begin(tx, 7, "CreateLead", "").has_value());    // no id
                    return absl::OkStatus();
                  })
                  .ok());
}

// A retry racing the first attempt waits for it and then sees its result.
TEST_F(RequestResultsTest, ConcurrentRetryWaitsForTheFirstToCommit) {
  Migrate();
  std::unique_ptr<db::Pool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  absl::Notification first_began, release_first;
  std::thread first([&] {
    EXPECT_TRUE(pool->Transact([&](pqxx::work& tx) {
                      EXPECT_FALSE(Begin(tx, 1, "CaptureLead", "same").has_value());
                      first_began.Notify();
                      release_first.WaitForNotification();
                      Remember(tx, 1, "CaptureLead", "same", {.resource_id = 5});
                      return absl::OkStatus();
                    })
                    .ok());
  });
  first_began.WaitForNotification();
  std::atomic<bool> second_done{false};
  std::optional<Result> seen;
  std::thread second([&] {
    EXPECT_TRUE(pool->Transact([&](pqxx::work& tx) {
                      seen = Begin(tx, 1, "CaptureLead", "same");
                      return absl::OkStatus();
                    })
                    .ok());
    second_done = true;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(second_done.load());  // held by the first attempt's lock
  release_first.Notify();
  first.join();
  second.join();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->resource_id, 5);
}

// A service that created the table before the kit did (auth) keeps its rows
// and gains the outcome column.
TEST_F(RequestResultsTest, MigrationAdoptsAnExistingTable) {
  ASSERT_TRUE(db::ApplyMigrations(
                  dsn_, {db::Migration{1, "001_old.sql",
                                       "CREATE TABLE request_results (caller_id BIGINT NOT NULL, "
                                       "method TEXT NOT NULL, request_id TEXT NOT NULL, "
                                       "resource_id BIGINT NOT NULL, created_at TIMESTAMPTZ NOT "
                                       "NULL DEFAULT now(), PRIMARY KEY (caller_id, method, "
                                       "request_id)); INSERT INTO request_results VALUES "
                                       "(1, 'CreateUser', 'x', 9, now())"}})
                  .ok());
  Migrate();
  std::unique_ptr<db::Pool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Transact([](pqxx::work& tx) {
                    std::optional<Result> done = Begin(tx, 1, "CreateUser", "x");
                    EXPECT_TRUE(done.has_value());
                    if (done.has_value()) {
                      EXPECT_EQ(done->resource_id, 9);
                      EXPECT_EQ(done->outcome, "");
                    }
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace crm::idempotency
