#include "common/outbox/outbox.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/pool.h"
#include "common/testing/pg_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::outbox {
namespace {

class OutboxTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_TRUE(db::ApplyMigrations(
                    dsn_, WithOutbox({db::Migration{
                              1, "001_things.sql", "CREATE TABLE things (id BIGINT PRIMARY KEY)"}}))
                    .ok());
    db::PoolOptions options;
    options.dsn = dsn_;
    pool_ = std::make_unique<db::Pool>(options);
  }

  int64_t Count(const std::string& table) {
    int64_t n = -1;
    EXPECT_TRUE(pool_
                    ->Read([&](pqxx::nontransaction& tx) {
                      n = tx.exec1("SELECT count(*) FROM " + table)[0].as<int64_t>();
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  }

  std::unique_ptr<db::Pool> pool_;
};

TEST_F(OutboxTest, EventCommitsWithTheChange) {
  ASSERT_TRUE(pool_
                  ->Transact([](pqxx::work& tx) {
                    tx.exec("INSERT INTO things VALUES (1)");
                    return Record(tx, "test",
                                  Activity{.actor_user_id = 7,
                                           .action = "thing.created",
                                           .entity_type = "thing",
                                           .entity_id = 1,
                                           .details_json = R"({"id":{"new":1}})"});
                  })
                  .ok());
  EXPECT_EQ(Count("things"), 1);
  EXPECT_EQ(Count("outbox"), 1);
  ASSERT_TRUE(pool_
                  ->Read([](pqxx::nontransaction& tx) {
                    pqxx::row row = tx.exec1(
                        "SELECT service, actor_user_id, action, entity_type, entity_id, "
                        "details->'id'->>'new', delivered_at IS NULL, length(event_id::text) "
                        "FROM outbox");
                    EXPECT_EQ(row[0].as<std::string>(), "test");
                    EXPECT_EQ(row[1].as<int64_t>(), 7);
                    EXPECT_EQ(row[2].as<std::string>(), "thing.created");
                    EXPECT_EQ(row[3].as<std::string>(), "thing");
                    EXPECT_EQ(row[4].as<int64_t>(), 1);
                    EXPECT_EQ(row[5].as<std::string>(), "1");
                    EXPECT_TRUE(row[6].as<bool>());
                    EXPECT_EQ(row[7].as<int>(), 36);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(OutboxTest, ManyEventsGoInOneStatementInTheirOrder) {
  std::vector<Activity> activities;
  for (int i = 1; i <= 300; ++i) {
    activities.push_back({.actor_user_id = 7,
                          .action = i % 2 ? "thing.created" : "thing.updated",
                          .entity_type = "thing",
                          .entity_id = i,
                          .details_json = absl::StrCat(R"({"n":)", i, R"(,"quote":"a\"b,{c}"})")});
  }
  ASSERT_TRUE(
      pool_->Transact([&](pqxx::work& tx) { return RecordAll(tx, "test", activities); }).ok());
  std::vector<int64_t> ids;
  ASSERT_TRUE(pool_
                  ->Read([&](pqxx::nontransaction& tx) {
                    for (const pqxx::row& row :
                         tx.exec("SELECT entity_id, details->>'quote', action FROM outbox "
                                 "ORDER BY id")) {
                      ids.push_back(row[0].as<int64_t>());
                      EXPECT_EQ(row[1].as<std::string>(), "a\"b,{c}");
                      EXPECT_EQ(row[2].as<std::string>(),
                                ids.back() % 2 ? "thing.created" : "thing.updated");
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(ids.size(), 300u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  // One oversized event refuses the whole statement, and names its action.
  activities.resize(2);
  activities[1].action = "thing.huge";
  activities[1].details_json =
      absl::StrCat(R"({"x":")", std::string(kMaxDetailsBytes, 'x'), R"("})");
  const absl::Status refused =
      pool_->Transact([&](pqxx::work& tx) { return RecordAll(tx, "test", activities); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("thing.huge"), std::string::npos) << refused;
  EXPECT_EQ(Count("outbox"), 300);
}

TEST_F(OutboxTest, EventRollsBackWithTheChange) {
  absl::Status status = pool_->Transact([](pqxx::work& tx) {
    tx.exec("INSERT INTO things VALUES (2)");
    EXPECT_TRUE(Record(tx, "test",
                       Activity{.actor_user_id = 0,
                                .action = "thing.created",
                                .entity_type = "thing",
                                .entity_id = 2,
                                .details_json = "{}"})
                    .ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  // A failing statement after the event rolls it back too.
  status = pool_->Transact([](pqxx::work& tx) {
    EXPECT_TRUE(Record(tx, "test",
                       Activity{.actor_user_id = 0,
                                .action = "thing.created",
                                .entity_type = "thing",
                                .entity_id = 3,
                                .details_json = "{}"})
                    .ok());
    tx.exec("INSERT INTO things VALUES (NULL)");
    return absl::OkStatus();
  });
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Count("things"), 0);
  EXPECT_EQ(Count("outbox"), 0);
}

TEST_F(OutboxTest, DetailsMustBeJson) {
  absl::Status status = pool_->Transact([](pqxx::work& tx) {
    return Record(tx, "test",
                  Activity{.actor_user_id = 0,
                           .action = "thing.created",
                           .entity_type = "thing",
                           .entity_id = 0,
                           .details_json = "not json"});
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("outbox"), 0);
}

// An event audit would refuse is refused when it is written, with its
// change: the limits hold for the details as stored (jsonb's text form
// adds a space after each ':' and ',', so compact input just under the
// limit can be over it).
TEST_F(OutboxTest, OversizedEventsAreRefusedWithTheirChange) {
  auto write = [&](const std::string& action, const std::string& details) {
    return pool_->Transact([&](pqxx::work& tx) {
      tx.exec("INSERT INTO things VALUES (9)");
      return Record(tx, "test",
                    Activity{.action = action, .entity_type = "", .details_json = details});
    });
  };
  const std::string big = absl::StrCat(R"({"notes":")", std::string(kMaxDetailsBytes, 'x'), "\"}");
  absl::Status status = write("thing.created", big);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("larger than 65536 bytes"));
  std::string compact = "{";
  while (compact.size() < kMaxDetailsBytes - 40) {
    absl::StrAppend(&compact, compact.size() > 1 ? "," : "", "\"k", compact.size(), "\":1");
  }
  compact += "}";
  ASSERT_LE(compact.size(), kMaxDetailsBytes);
  EXPECT_EQ(write("thing.created", compact).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(write(std::string(65, 'a'), "{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(write("", "{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("things"), 0);
  EXPECT_EQ(Count("outbox"), 0);
  EXPECT_TRUE(write("thing.created", R"({"notes":"fits"})").ok());
}

TEST_F(OutboxTest, CommittedEventsNotifyTheRelayOncePerTransaction) {
  class Counter final : public pqxx::notification_receiver {
   public:
    explicit Counter(pqxx::connection_base& c) : notification_receiver(c, kNotifyChannel) {}
    void operator()(const std::string&, int) override { ++count; }
    int count = 0;
  };
  pqxx::connection listener(dsn_);
  Counter counter(listener);
  auto record = [](pqxx::work& tx) {
    EXPECT_TRUE(Record(tx, "test",
                       Activity{.actor_user_id = 0,
                                .action = "thing.created",
                                .entity_type = "thing",
                                .entity_id = 1,
                                .details_json = "{}"})
                    .ok());
  };
  // Rolled back: no notification.
  EXPECT_FALSE(pool_
                   ->Transact([&](pqxx::work& tx) {
                     record(tx);
                     return absl::AbortedError("roll back");
                   })
                   .ok());
  listener.await_notification(0, 200000);
  EXPECT_EQ(counter.count, 0);
  // Three events in one transaction: one wake-up.
  ASSERT_TRUE(pool_
                  ->Transact([&](pqxx::work& tx) {
                    for (int i = 0; i < 3; ++i) {
                      record(tx);
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  for (int i = 0; i < 20 && counter.count == 0; ++i) {
    listener.await_notification(0, 100000);
  }
  listener.await_notification(0, 100000);
  EXPECT_EQ(counter.count, 1);
}

}  // namespace
}  // namespace crm::outbox
