#include "common/db/migrations.h"

#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/pg_fixture.h"
#include "common/testing/tcp_proxy.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

MigrationOptions Until(absl::Time deadline,
                       std::function<bool(absl::Duration)> stop_requested = nullptr) {
  MigrationOptions options;
  options.deadline = deadline;
  options.stop_requested = std::move(stop_requested);
  return options;
}

class MigrationsTest : public crm::testing::PgTest {
 protected:
  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  const std::vector<Migration> migrations_ = {
      {1, "001_create_things.sql", "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT);"},
      {2, "002_index_things.sql",
       "CREATE INDEX idx_things_name ON things (name);\n"
       "INSERT INTO things VALUES (1, 'seed');"},
  };
};

TEST_F(MigrationsTest, AppliesInOrderAndRecordsEach) {
  ASSERT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM things"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_things_name'"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(QueryInt("SELECT max(version) FROM schema_migrations"), 2);
}

TEST_F(MigrationsTest, AppliesOnlyOnce) {
  ASSERT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
  // Re-running would fail (CREATE TABLE exists) or duplicate the INSERT.
  ASSERT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM things"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
}

TEST_F(MigrationsTest, AppliesOnlyNewOnes) {
  ASSERT_TRUE(ApplyMigrations(dsn_, {migrations_[0]}).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 1);
  ASSERT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM things"), 1);
}

TEST_F(MigrationsTest, RefusesAnEditedLandedMigration) {
  ASSERT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
  std::vector<Migration> edited = migrations_;
  edited[0].sql = "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT, extra INT);";
  edited.push_back({3, "003_more.sql", "CREATE TABLE more_things (id BIGINT);"});
  absl::Status status = ApplyMigrations(dsn_, edited);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(status.message()).find("001_create_things.sql"), std::string::npos);
  // Nothing after the refusal ran.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'more_things'"), 0);
}

TEST_F(MigrationsTest, FailedMigrationRollsBackEntirely) {
  std::vector<Migration> broken = migrations_;
  broken.push_back(
      {3, "003_broken.sql", "CREATE TABLE half_done (id BIGINT);\nSELECT no_such_function();"});
  absl::Status status = ApplyMigrations(dsn_, broken);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'"), 0);
  // The lock was released: a fixed set applies cleanly afterwards.
  EXPECT_TRUE(ApplyMigrations(dsn_, migrations_).ok());
}

TEST_F(MigrationsTest, ConcurrentRunnersSerialise) {
  // Several replicas starting at once: without the advisory lock they would
  // race on CREATE TABLE and on schema_migrations' primary key.
  std::vector<Migration> slow = migrations_;
  slow.insert(slow.begin() + 1,
              Migration{2, "002_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE slow (id INT);"});
  slow[2].version = 3;
  constexpr int kRunners = 6;
  std::vector<absl::Status> results(kRunners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] { results[i] = ApplyMigrations(dsn_, slow); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const absl::Status& status : results) {
    EXPECT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM things"), 1);
}

TEST_F(MigrationsTest, UnreachableDatabaseIsUnavailable) {
  absl::Status status =
      ApplyMigrations("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", migrations_);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(MigrationsTest, SilentDatabaseFailsAtTheDeadline) {
  auto proxy = crm::testing::TcpProxy::Start("127.0.0.1", cluster_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string through_proxy = absl::StrCat("host=127.0.0.1 port=", (*proxy)->port(),
                                                 " dbname=", db_name_, " user=", db_name_);
  (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kDrop);
  // Silent from the start (connecting), then silent once connected (a
  // statement): both end at the deadline.
  for (int round = 0; round < 2; ++round) {
    const absl::Time start = absl::Now();
    absl::Status status =
        ApplyMigrations(through_proxy, migrations_, Until(start + absl::Milliseconds(1500)));
    EXPECT_FALSE(status.ok());
    EXPECT_TRUE(absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) << status;
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500)) << round;
    if (round == 0) {
      // Connected, then silent: the proxy blackholes from the first query.
      (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kPass);
      ASSERT_TRUE(ApplyMigrations(through_proxy, migrations_).ok());
      (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kDelay, absl::Milliseconds(1));
    }
    (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kDrop);
  }
  (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kPass);
  EXPECT_TRUE(ApplyMigrations(through_proxy, migrations_).ok());
}

TEST_F(MigrationsTest, LockHeldElsewhereIsWaitedForOnlyUntilTheDeadline) {
  pqxx::connection holder(dsn_);
  pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  const absl::Time start = absl::Now();
  absl::Status status = ApplyMigrations(dsn_, migrations_, Until(start + absl::Milliseconds(1000)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Milliseconds(2000));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'things'"), 0);

  // Released while a run waits: that run goes ahead.
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(300));
    pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
  });
  EXPECT_TRUE(ApplyMigrations(dsn_, migrations_, Until(absl::Now() + absl::Seconds(10))).ok());
  release.join();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 2);
}

TEST_F(MigrationsTest, StopRequestAbandonsTheRunAtOnce) {
  pqxx::connection holder(dsn_);
  pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  const absl::Time stop_at = absl::Now() + absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::Status status = ApplyMigrations(
      dsn_, migrations_,
      {.deadline = start + absl::Seconds(30), .stop_requested = [stop_at](absl::Duration wait) {
         absl::SleepFor(std::min(wait, std::max(absl::ZeroDuration(), stop_at - absl::Now())));
         return absl::Now() >= stop_at;
       }});
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  // Stopped while blocked in a statement on a silent database, too.
  auto proxy = crm::testing::TcpProxy::Start("127.0.0.1", cluster_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kDrop);
  const absl::Time stop_later = absl::Now() + absl::Milliseconds(300);
  const absl::Time again = absl::Now();
  status = ApplyMigrations(
      absl::StrCat("host=127.0.0.1 port=", (*proxy)->port(), " dbname=", db_name_,
                   " user=", db_name_),
      migrations_,
      {.deadline = again + absl::Seconds(30), .stop_requested = [stop_later](absl::Duration wait) {
         absl::SleepFor(std::min(wait, std::max(absl::ZeroDuration(), stop_later - absl::Now())));
         return absl::Now() >= stop_later;
       }});
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_LT(absl::Now() - again, absl::Seconds(2));
}

TEST(MigrationChecksumTest, IsSha256Hex) {
  EXPECT_EQ(MigrationChecksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace crm::db
