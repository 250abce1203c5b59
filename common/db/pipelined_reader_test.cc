#include "common/db/pipelined_reader.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "common/db/row_fields.h"
#include "common/deadline/call_scope.h"
#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

class PipelinedReaderTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_TRUE(cluster_
                    ->Exec("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, n INT);"
                           "INSERT INTO items SELECT g, 'item ' || g, g * 10 "
                           "FROM generate_series(1, 1000) g;"
                           "INSERT INTO items VALUES (0, NULL, NULL);"
                           "ALTER TABLE items OWNER TO " +
                               db_name_,
                           db_name_)
                    .ok());
  }

  PipelinedReaderOptions Options(int connections = 2) {
    return PipelinedReaderOptions{
        .dsn = dsn_,
        .connections = connections,
        .statements = {{"item", "SELECT id, name, n FROM items WHERE id = $1"},
                       {"ratio", "SELECT 100 / n FROM items WHERE id = $1"},
                       {"sleep", "SELECT pg_sleep($1::float8)"}}};
  }

  // Reads and waits for the answer.
  static absl::StatusOr<Rows> ReadNow(PipelinedReader& reader, const std::string& statement,
                                      std::vector<std::optional<std::string>> params) {
    absl::Notification done;
    absl::StatusOr<Rows> out = absl::UnknownError("not answered");
    reader.Read(statement, std::move(params), [&](absl::StatusOr<Rows> rows) {
      out = std::move(rows);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  static absl::StatusOr<Rows> ReadSqlNow(PipelinedReader& reader, const std::string& sql,
                                         std::vector<std::optional<std::string>> params) {
    absl::Notification done;
    absl::StatusOr<Rows> out = absl::UnknownError("not answered");
    reader.ReadSql(sql, std::move(params), [&](absl::StatusOr<Rows> rows) {
      out = std::move(rows);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  // A field as text, whatever its format (integers arrive in binary).
  static std::string Value(const Rows& rows, int row, int column) {
    if (rows.ColumnKind(column) == Rows::Kind::kInt) {
      return absl::StrCat(RowFields(rows, row).Int64(std::string(rows.ColumnName(column)).c_str()));
    }
    return std::string(rows.Get(row, column));
  }

  void TerminateBackends() { ASSERT_TRUE(cluster_->TerminateConnections(db_name_).ok()); }
};

TEST_F(PipelinedReaderTest, ReadsRowsAndNulls) {
  PipelinedReader reader(Options());
  absl::StatusOr<Rows> rows = ReadNow(reader, "item", {"7"});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1);
  ASSERT_EQ(rows->columns(), 3);
  EXPECT_EQ(Value(*rows, 0, 0), "7");
  EXPECT_EQ(Value(*rows, 0, 1), "item 7");
  EXPECT_EQ(Value(*rows, 0, 2), "70");
  EXPECT_FALSE(rows->IsNull(0, 1));

  rows = ReadNow(reader, "item", {"0"});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->IsNull(0, 1));
  EXPECT_EQ(Value(*rows, 0, 1), "");

  rows = ReadNow(reader, "item", {"5000"});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 0);

  rows = ReadNow(reader, "item", {std::nullopt});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 0);
}

// The loop runs where run_loop puts it and answers there, and the reader
// waits for it to return when it goes.
TEST_F(PipelinedReaderTest, TheLoopRunsWhereItIsPut) {
  std::thread::id loop_thread;
  std::atomic<int> joins{0};
  PipelinedReaderOptions options = Options();
  options.run_loop = [&](std::function<void()> loop) -> std::function<void()> {
    auto thread = std::make_shared<std::thread>([&loop_thread, loop = std::move(loop)] {
      loop_thread = std::this_thread::get_id();
      loop();
    });
    return [thread, &joins] {
      thread->join();
      ++joins;
    };
  };
  std::optional<std::thread::id> answered_on;
  {
    PipelinedReader reader(options);
    absl::Notification done;
    reader.Read("item", {"7"}, [&](absl::StatusOr<Rows> rows) {
      EXPECT_TRUE(rows.ok()) << rows.status();
      answered_on = std::this_thread::get_id();
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_EQ(joins.load(), 0);
  }
  EXPECT_EQ(joins.load(), 1);
  ASSERT_TRUE(answered_on.has_value());
  EXPECT_EQ(*answered_on, loop_thread);
}

TEST_F(PipelinedReaderTest, ManyConcurrentReadsEachGetTheirOwnAnswerOnce) {
  PipelinedReader reader(Options());
  constexpr int kThreads = 8;
  constexpr int kReads = 500;
  std::atomic<int> wrong{0};
  std::atomic<int> answered{0};
  absl::BlockingCounter all(kThreads * kReads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kReads; ++i) {
        const int id = 1 + (t * kReads + i) % 1000;
        reader.Read("item", {absl::StrCat(id)}, [&, id](absl::StatusOr<Rows> rows) {
          if (!rows.ok() || rows->size() != 1 || Value(*rows, 0, 0) != absl::StrCat(id)) {
            ++wrong;
          }
          ++answered;
          all.DecrementCount();
        });
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  all.Wait();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(answered.load(), kThreads * kReads);
}

// A text read through ReadSql is a prepared statement of its connection, so
// PostgreSQL's plan cache serves it: one whose plan does not depend on its
// values (here a page with its size in the text) settles on the generic plan
// after the first five calls and is not planned again.
TEST_F(PipelinedReaderTest, APreparedTextSettlesOnItsGenericPlan) {
  PipelinedReader reader(Options(/*connections=*/1));
  constexpr const char* kPage = "SELECT id FROM items WHERE id < $1 ORDER BY id DESC LIMIT 3";
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<Rows> rows = ReadSqlNow(reader, kPage, {"500"});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 3);
    EXPECT_EQ(Value(*rows, 0, 0), "499");
  }
  absl::StatusOr<Rows> plans =
      ReadSqlNow(reader,
                 "SELECT generic_plans::int8, custom_plans::int8 FROM pg_prepared_statements "
                 "WHERE statement = $1",
                 {kPage});
  ASSERT_TRUE(plans.ok()) << plans.status();
  ASSERT_EQ(plans->size(), 1);
  EXPECT_EQ(Value(*plans, 0, 0), "3");
  EXPECT_EQ(Value(*plans, 0, 1), "5");
}

TEST_F(PipelinedReaderTest, AFailedQueryFailsAloneAndItsNeighboursAreAnswered) {
  PipelinedReader reader(Options(/*connections=*/1));
  // Queued together, so they share a pipeline segment with the failure:
  // the queries after it are aborted by PostgreSQL and sent again.
  constexpr int kReads = 50;
  std::vector<absl::StatusOr<Rows>> results;
  ASSERT_TRUE(cluster_->Exec("INSERT INTO items VALUES (-5, 'zero', 0)", db_name_).ok());
  for (int i = 0; i < kReads; ++i) {
    results.emplace_back(absl::UnknownError("not answered"));
  }
  absl::BlockingCounter again(kReads);
  for (int i = 0; i < kReads; ++i) {
    const std::string id = i == 10 ? "-5" : absl::StrCat(i + 1);
    reader.Read("ratio", {id}, [&, i](absl::StatusOr<Rows> rows) {
      results[i] = std::move(rows);
      again.DecrementCount();
    });
  }
  again.Wait();
  for (int i = 0; i < kReads; ++i) {
    if (i == 10) {
      // division_by_zero (22012): a client-safe INVALID_ARGUMENT, no SQL in it.
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(results[i].status().message(), "database error");
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(Value(*results[i], 0, 0), absl::StrCat(100 / ((i + 1) * 10)));
    }
  }
}

TEST_F(PipelinedReaderTest, AnUnknownStatementIsAnError) {
  PipelinedReader reader(Options());
  absl::StatusOr<Rows> rows = ReadNow(reader, "no_such_statement", {});
  EXPECT_FALSE(rows.ok());
  EXPECT_EQ(Value(*ReadNow(reader, "item", {"3"}), 0, 0), "3");
}

TEST_F(PipelinedReaderTest, RecoversWhenItsConnectionsAreKilled) {
  PipelinedReader reader(Options());
  ASSERT_TRUE(ReadNow(reader, "item", {"1"}).ok());
  TerminateBackends();
  // The first read may meet the dead connection (UNAVAILABLE); soon after,
  // reads are answered on fresh ones.
  absl::StatusOr<Rows> rows = absl::UnknownError("not tried");
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  int failures = 0;
  while (absl::Now() < give_up) {
    rows = ReadNow(reader, "item", {"2"});
    if (rows.ok()) {
      break;
    }
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kUnavailable) << rows.status();
    ++failures;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(Value(*rows, 0, 0), "2");
  EXPECT_LE(failures, 4);
}

TEST_F(PipelinedReaderTest, DatabaseDownIsUnavailableThenRecovers) {
  PipelinedReader reader(Options());
  ASSERT_TRUE(ReadNow(reader, "item", {"1"}).ok());
  ASSERT_TRUE(cluster_->Stop().ok());
  absl::StatusOr<Rows> rows = ReadNow(reader, "item", {"1"});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kUnavailable) << rows.status();
  rows = ReadNow(reader, "item", {"1"});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kUnavailable) << rows.status();
  ASSERT_TRUE(cluster_->Start().ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up && !rows.ok()) {
    absl::SleepFor(absl::Milliseconds(100));
    rows = ReadNow(reader, "item", {"4"});
  }
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(Value(*rows, 0, 0), "4");
}

TEST_F(PipelinedReaderTest, StoppingAnswersEveryPendingRead) {
  std::atomic<int> answered{0};
  {
    PipelinedReader reader(Options());
    for (int i = 0; i < 20; ++i) {
      reader.Read("sleep", {"0.05"}, [&](absl::StatusOr<Rows>) { ++answered; });
    }
  }
  EXPECT_EQ(answered.load(), 20);
}

TEST_F(PipelinedReaderTest, AReadWhoseCallHasExpiredIsNotSent) {
  PipelinedReader reader(Options());
  absl::StatusOr<Rows> rows = absl::UnknownError("not answered");
  {
    CallScope scope(absl::Now() - absl::Milliseconds(1));
    rows = ReadNow(reader, "item", {"1"});
  }
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kDeadlineExceeded);
  {
    CallScope scope(absl::Now() + absl::Seconds(5));
    rows = ReadNow(reader, "item", {"1"});
  }
  EXPECT_TRUE(rows.ok()) << rows.status();
}

TEST_F(PipelinedReaderTest, AFullQueueIsResourceExhaustedAtOnce) {
  PipelinedReaderOptions options = Options(/*connections=*/1);
  options.max_queued = 0;
  PipelinedReader reader(std::move(options));
  absl::StatusOr<Rows> rows = ReadNow(reader, "item", {"1"});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kResourceExhausted);
}

// The statements a connection has prepared for SQL texts (its session's own).
constexpr char kCachedCount[] =
    "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'crm\\_sql\\_%'";

TEST_F(PipelinedReaderTest, SqlTextsArePreparedOnceAndReused) {
  PipelinedReader reader(Options(/*connections=*/1));
  for (int id = 1; id <= 50; ++id) {
    absl::StatusOr<Rows> rows =
        ReadSqlNow(reader, "SELECT name FROM items WHERE id = $1", {absl::StrCat(id)});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1);
    EXPECT_EQ(Value(*rows, 0, 0), absl::StrCat("item ", id));
  }
  ASSERT_TRUE(ReadSqlNow(reader, "SELECT n FROM items WHERE id = $1", {"3"}).ok());
  // Two texts above and this one: three statements, however often each ran.
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Rows> count = ReadSqlNow(reader, kCachedCount, {});
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(Value(*count, 0, 0), "3");
  }
}

TEST_F(PipelinedReaderTest, ABadSqlTextFailsAloneEveryTime) {
  PipelinedReader reader(Options(/*connections=*/1));
  for (int round = 0; round < 2; ++round) {
    // Sent in one pipeline segment: the failed preparation must not take
    // its neighbours down.
    absl::BlockingCounter pending(3);
    absl::StatusOr<Rows> before = absl::UnknownError(""), bad = absl::UnknownError(""),
                         after = absl::UnknownError("");
    auto into = [&](absl::StatusOr<Rows>* out) {
      return [&pending, out](absl::StatusOr<Rows> rows) {
        *out = std::move(rows);
        pending.DecrementCount();
      };
    };
    reader.ReadSql("SELECT name FROM items WHERE id = $1", {"4"}, into(&before));
    reader.ReadSql("SELECT no_such_column FROM items WHERE id = $1", {"4"}, into(&bad));
    reader.ReadSql("SELECT n FROM items WHERE id = $1", {"4"}, into(&after));
    pending.Wait();
    ASSERT_TRUE(before.ok()) << before.status();
    EXPECT_EQ(Value(*before, 0, 0), "item 4");
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().message(), "database error");  // nothing of the SQL
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(Value(*after, 0, 0), "40");
  }
}

TEST_F(PipelinedReaderTest, TextsPastTheCacheRunUnprepared) {
  PipelinedReader reader(Options(/*connections=*/1));
  const int texts = PipelinedReader::kMaxCachedStatements + 20;
  for (int k = 0; k < texts; ++k) {
    absl::StatusOr<Rows> rows =
        ReadSqlNow(reader, absl::StrCat("SELECT $1::int + ", k), {absl::StrCat(1000)});
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ(Value(*rows, 0, 0), absl::StrCat(1000 + k));
  }
  absl::StatusOr<Rows> count = ReadSqlNow(reader, kCachedCount, {});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(Value(*count, 0, 0), absl::StrCat(PipelinedReader::kMaxCachedStatements));
}

TEST_F(PipelinedReaderTest, SqlTextsArePreparedAgainOnANewConnection) {
  PipelinedReader reader(Options(/*connections=*/1));
  ASSERT_TRUE(ReadSqlNow(reader, "SELECT name FROM items WHERE id = $1", {"2"}).ok());
  TerminateBackends();
  absl::StatusOr<Rows> rows;
  for (int attempt = 0; attempt < 50; ++attempt) {
    rows = ReadSqlNow(reader, "SELECT name FROM items WHERE id = $1", {"2"});
    if (rows.ok()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(Value(*rows, 0, 0), "item 2");
}

// Numbers and booleans arrive in binary and decode to the same values as
// their text; text-like columns are their bytes; NULLs stay NULL.
TEST_F(PipelinedReaderTest, DecodesBinaryFieldsOfEveryKind) {
  PipelinedReader reader(Options());
  absl::StatusOr<Rows> rows =
      ReadSqlNow(reader,
                 "SELECT $1::int2 AS small, -70000::int4 AS medium, -3000000000::int8 AS big, "
                 "9223372036854775807::int8 AS max, 1.5::float8 AS wide, -0.25::float4 AS narrow, "
                 "true AS yes, false AS no, 'x y'::text AS t, 'v'::varchar(5) AS v, '' AS empty, "
                 "NULL::int8 AS nothing, NULL::float8 AS no_float, NULL::bool AS no_bool",
                 {"-12"});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->ColumnKind(0), Rows::Kind::kInt);
  EXPECT_EQ(rows->ColumnKind(4), Rows::Kind::kFloat);
  EXPECT_EQ(rows->ColumnKind(6), Rows::Kind::kBool);
  EXPECT_EQ(rows->ColumnKind(8), Rows::Kind::kText);
  const RowFields f(*rows, 0);
  EXPECT_EQ(f.Int64("small"), -12);
  EXPECT_EQ(f.Int64("medium"), -70000);
  EXPECT_EQ(f.Int64("big"), -3000000000);
  EXPECT_EQ(f.Int64("max"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(f.OptionalDouble("wide"), 1.5);
  EXPECT_EQ(f.OptionalDouble("narrow"), -0.25);
  EXPECT_EQ(f.OptionalDouble("medium"), -70000.0);
  EXPECT_TRUE(f.Bool("yes"));
  EXPECT_FALSE(f.Bool("no"));
  EXPECT_EQ(f.Int64("yes"), 1);
  EXPECT_EQ(f.Str("t"), "x y");
  EXPECT_EQ(f.Str("v"), "v");
  EXPECT_EQ(f.Str("empty"), "");
  EXPECT_FALSE(f.IsNull("empty"));
  EXPECT_TRUE(f.IsNull("nothing"));
  EXPECT_EQ(f.Int64("nothing"), 0);
  EXPECT_EQ(f.OptionalInt64("nothing"), std::nullopt);
  EXPECT_EQ(f.OptionalInt64("big"), -3000000000);
  EXPECT_EQ(f.OptionalDouble("no_float"), std::nullopt);
  EXPECT_FALSE(f.Bool("no_bool"));
}

// A column whose binary form the decoders do not know (a timestamp here)
// fails its read with a plain INTERNAL rather than decoding into garbage, and
// the reader goes on.
TEST_F(PipelinedReaderTest, AnUndecodableColumnFailsItsReadOnly) {
  PipelinedReader reader(Options());
  absl::StatusOr<Rows> rows = ReadSqlNow(reader, "SELECT id, now() AS at FROM items", {});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(rows.status().message(), "database error");
  EXPECT_EQ(Value(*ReadNow(reader, "item", {"5"}), 0, 1), "item 5");
}

}  // namespace
}  // namespace crm::db
