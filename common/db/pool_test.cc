#include "common/db/pool.h"

#include <atomic>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/deadline/call_scope.h"
#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

class PoolTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_TRUE(cluster_
                    ->Exec("CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL);"
                           "INSERT INTO counters VALUES (1, 0);"
                           "CREATE TABLE names (name TEXT PRIMARY KEY);"
                           "ALTER TABLE counters OWNER TO " +
                               db_name_ + ";" + "ALTER TABLE names OWNER TO " + db_name_,
                           db_name_)
                    .ok());
  }

  PoolOptions Options(int size = 4) {
    return PoolOptions{.dsn = dsn_,
                       .size = size,
                       .acquire_timeout = absl::Seconds(5),
                       .statements = {{"get_counter", "SELECT n FROM counters WHERE id = $1"},
                                      {"add_name", "INSERT INTO names (name) VALUES ($1)"}}};
  }

  static int64_t Counter(Pool& pool) {
    int64_t n = -1;
    EXPECT_TRUE(pool.Read([&](pqxx::nontransaction& tx) {
                      n = tx.exec_prepared1("get_counter", 1)[0].as<int64_t>();
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  }

  // Takes one of the pool's connections for a second, on a thread of its
  // own; returns once it is taken.
  static std::thread HoldAConnection(Pool& pool) {
    auto holding = std::make_shared<absl::Notification>();
    std::thread holder([&pool, holding] {
      EXPECT_TRUE(pool.Read([&](pqxx::nontransaction& tx) {
                        holding->Notify();
                        tx.exec("SELECT pg_sleep(1)");
                        return absl::OkStatus();
                      })
                      .ok());
    });
    holding->WaitForNotification();
    return holder;
  }

  void TerminateBackends() { ASSERT_TRUE(cluster_->TerminateConnections(db_name_).ok()); }
};

TEST_F(PoolTest, CommitsWhenCallbackSucceeds) {
  Pool pool(Options());
  ASSERT_TRUE(pool.Transact([](pqxx::work& tx) {
                    tx.exec("UPDATE counters SET n = n + 5 WHERE id = 1");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(Counter(pool), 5);
}

TEST_F(PoolTest, RollsBackAndReturnsCallbackError) {
  Pool pool(Options());
  absl::Status status = pool.Transact([](pqxx::work& tx) {
    tx.exec("UPDATE counters SET n = n + 5 WHERE id = 1");
    return absl::NotFoundError("lead 7 not found");
  });
  EXPECT_EQ(status, absl::NotFoundError("lead 7 not found"));
  EXPECT_EQ(Counter(pool), 0);
}

// The result forms: the value of a committed transaction, the error of a
// rolled-back one, and the value of a read.
TEST_F(PoolTest, TransactForAndReadForReturnTheCallbacksResult) {
  Pool pool(Options());
  absl::StatusOr<int64_t> added = TransactFor(pool, [](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    return tx.exec1("UPDATE counters SET n = n + 7 WHERE id = 1 RETURNING n")[0].as<int64_t>();
  });
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 7);
  absl::StatusOr<int64_t> refused =
      TransactFor(pool, [](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        tx.exec("UPDATE counters SET n = n + 100 WHERE id = 1");
        return absl::FailedPreconditionError("changed my mind");
      });
  EXPECT_EQ(refused.status(), absl::FailedPreconditionError("changed my mind"));
  absl::StatusOr<int64_t> read =
      ReadFor(pool, [](pqxx::nontransaction& tx) -> absl::StatusOr<int64_t> {
        return tx.exec_prepared1("get_counter", 1)[0].as<int64_t>();
      });
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 7);  // the refused +100 rolled back
}

TEST_F(PoolTest, MapsConstraintViolationsWithoutLeakingValues) {
  Pool pool(Options());
  auto add = [&](const std::string& name) {
    return pool.Transact([&](pqxx::work& tx) {
      tx.exec_prepared("add_name", name);
      return absl::OkStatus();
    });
  };
  ASSERT_TRUE(add("agent@example.com").ok());
  absl::Status duplicate = add("agent@example.com");
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(std::string(duplicate.message()).find("agent@example.com"), std::string::npos);
  EXPECT_EQ(std::string(duplicate.message()).find("names_pkey"), std::string::npos);
}

TEST_F(PoolTest, SyntaxErrorsAreInternalAndGeneric) {
  Pool pool(Options());
  absl::Status status = pool.Read([](pqxx::nontransaction& tx) {
    tx.exec("SELEC password_hash FROM users");
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "internal error");
}

TEST_F(PoolTest, RetriesSerializationFailures) {
  // Concurrent read-modify-write under SERIALIZABLE conflicts constantly;
  // every increment must still land exactly once.
  Pool pool([&] {
    PoolOptions options = Options(4);
    options.max_transaction_attempts = 50;
    return options;
  }());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status status = pool.Transact(
            [](pqxx::work& tx) {
              const int64_t n = tx.exec_prepared1("get_counter", 1)[0].as<int64_t>();
              tx.exec_params("UPDATE counters SET n = $1 WHERE id = 1", n + 1);
              return absl::OkStatus();
            },
            Isolation::kSerializable);
        if (!status.ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Counter(pool), kThreads * kIncrements);
}

TEST_F(PoolTest, NeverOpensMoreThanItsSize) {
  Pool pool(Options(2));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      EXPECT_TRUE(pool.Read([](pqxx::nontransaction& tx) {
                        tx.exec("SELECT pg_sleep(0.05)");
                        return absl::OkStatus();
                      })
                      .ok());
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  // Fewer may have been needed if the calls happened not to overlap; never more.
  EXPECT_LE(pool.stats().open, 2);
  EXPECT_GE(pool.stats().connects, 1);
  EXPECT_LE(pool.stats().connects, 2);
}

TEST_F(PoolTest, ExhaustedPoolAnswersUnavailableAfterTimeout) {
  PoolOptions options = Options(1);
  options.acquire_timeout = absl::Milliseconds(100);
  Pool pool(options);
  std::thread holder = HoldAConnection(pool);
  absl::Status status = pool.Read([](pqxx::nontransaction&) { return absl::OkStatus(); });
  holder.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

// A statement outlasting the call's deadline is stopped by PostgreSQL at
// about the deadline (not at the pool's 30 s), answered DEADLINE_EXCEEDED.
TEST_F(PoolTest, AStatementStopsAtTheCallsDeadline) {
  Pool pool(Options(1));
  const absl::Time start = absl::Now();
  absl::Status status;
  {
    CallScope scope(start + absl::Milliseconds(300));
    status = pool.Read([](pqxx::nontransaction& tx) {
      tx.exec("SELECT pg_sleep(5)");
      return absl::OkStatus();
    });
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(took, absl::Seconds(2));
  // The session's timeout is the pool's again for the next call.
  EXPECT_TRUE(pool.Read([](pqxx::nontransaction& tx) {
                    tx.exec("SELECT pg_sleep(0.5)");
                    return absl::OkStatus();
                  })
                  .ok());
  {
    CallScope scope(absl::Now() + absl::Milliseconds(300));
    status = pool.Transact([](pqxx::work& tx) {
      tx.exec("SELECT pg_sleep(5)");
      return absl::OkStatus();
    });
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
}

TEST_F(PoolTest, TheWaitForAConnectionEndsAtTheCallsDeadline) {
  PoolOptions options = Options(1);
  options.acquire_timeout = absl::Seconds(10);
  Pool pool(options);
  std::thread holder = HoldAConnection(pool);
  const absl::Time start = absl::Now();
  absl::Status status;
  {
    CallScope scope(start + absl::Milliseconds(100));
    status = pool.Read([](pqxx::nontransaction&) { return absl::OkStatus(); });
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(900));
  holder.join();
}

TEST_F(PoolTest, ACancelledOrExpiredCallDoesNotStart) {
  Pool pool(Options());
  bool ran = false;
  {
    CallScope scope(absl::InfiniteFuture(), [] { return true; });
    EXPECT_EQ(pool.Read([&](pqxx::nontransaction&) {
                    ran = true;
                    return absl::OkStatus();
                  })
                  .code(),
              absl::StatusCode::kCancelled);
  }
  {
    CallScope scope(absl::Now() - absl::Seconds(1));
    EXPECT_EQ(pool.Transact([&](pqxx::work&) {
                    ran = true;
                    return absl::OkStatus();
                  })
                  .code(),
              absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_FALSE(ran);
}

// A database that goes silent (frozen: the kernel still holds its sockets
// open) makes Ping fail within its timeout, not hang; thawed, it recovers.
TEST_F(PoolTest, PingIsBoundedWhenTheDatabaseFreezes) {
  PoolOptions options = Options();
  options.ping_timeout = absl::Milliseconds(500);
  options.connect_timeout = absl::Seconds(2);
  Pool pool(options);
  ASSERT_TRUE(pool.Ping().ok());
  ASSERT_TRUE(cluster_->Freeze().ok());
  const absl::Time start = absl::Now();
  const absl::Status frozen = pool.Ping();
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(cluster_->Thaw().ok());
  EXPECT_EQ(frozen.code(), absl::StatusCode::kUnavailable) << frozen;
  // At most the ping's timeout, plus the connect timeout if it had to reconnect.
  EXPECT_LT(took, options.ping_timeout + options.connect_timeout + absl::Seconds(1));
  EXPECT_FALSE(pool.healthy());
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  absl::Status thawed = pool.Ping();
  while (!thawed.ok() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
    thawed = pool.Ping();
  }
  EXPECT_TRUE(thawed.ok()) << thawed;
  EXPECT_TRUE(pool.healthy());
}

TEST(ConnectionDefaultsTest, AddsKeepalivesUnlessTheOperatorSetThem) {
  const std::string dsn = WithConnectionDefaults("host=db dbname=x", absl::Seconds(5));
  for (const char* setting :
       {"connect_timeout=5", "keepalives=1", "keepalives_idle=5", "keepalives_interval=2",
        "keepalives_count=3", "tcp_user_timeout=15000"}) {
    EXPECT_NE(dsn.find(setting), std::string::npos) << setting << " in " << dsn;
  }
  const std::string own =
      WithConnectionDefaults("host=db keepalives_idle=60 connect_timeout=9", absl::Seconds(5));
  EXPECT_NE(own.find("keepalives_idle=60"), std::string::npos);
  EXPECT_EQ(own.find("keepalives_idle=5"), std::string::npos);
  EXPECT_EQ(own.find("connect_timeout=5"), std::string::npos);
  EXPECT_EQ(WithConnectionDefaults("postgresql://db/x", absl::Seconds(5)), "postgresql://db/x");
}

TEST_F(PoolTest, SurvivesKilledConnections) {
  Pool pool(Options());
  ASSERT_EQ(Counter(pool), 0);
  ASSERT_TRUE(pool.Ping().ok());
  TerminateBackends();
  // The idle connection is dead; the pool notices at BEGIN and reconnects.
  EXPECT_TRUE(pool.Transact([](pqxx::work& tx) {
                    tx.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
                    return absl::OkStatus();
                  })
                  .ok());
  TerminateBackends();
  EXPECT_EQ(Counter(pool), 1);
  EXPECT_TRUE(pool.Ping().ok());
  EXPECT_TRUE(pool.healthy());
}

TEST_F(PoolTest, DatabaseRestartFailsUnavailableThenRecovers) {
  Pool pool(Options());
  ASSERT_TRUE(pool.Ping().ok());
  ASSERT_EQ(Counter(pool), 0);

  ASSERT_TRUE(cluster_->Stop().ok());
  absl::Status down = pool.Transact([](pqxx::work& tx) {
    tx.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
    return absl::OkStatus();
  });
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool.Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(pool.healthy());

  ASSERT_TRUE(cluster_->Start().ok());
  EXPECT_TRUE(pool.Ping().ok());
  EXPECT_TRUE(pool.healthy());
  EXPECT_TRUE(pool.Transact([](pqxx::work& tx) {
                    tx.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(Counter(pool), 1);
}

}  // namespace
}  // namespace crm::db
