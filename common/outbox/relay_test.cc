// The relay against an audit server that misbehaves on purpose (the real
// audit never does): what it may trust in an answer, and what it may not.

#include "common/outbox/relay.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/db/migrations.h"
#include "common/outbox/outbox.h"
#include "common/testing/pg_fixture.h"
#include "common/testing/tcp_proxy.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace crm::outbox {
namespace {

// Acks every event STORED, except that the first response names the wrong
// event for its second ack.
class ScriptedAudit final : public audit::v1::AuditService::Service {
 public:
  grpc::Status RecordActivities(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<audit::v1::RecordActivitiesResponse,
                               audit::v1::RecordActivitiesRequest>* stream) override {
    audit::v1::RecordActivitiesRequest request;
    while (stream->Read(&request)) {
      audit::v1::RecordActivitiesResponse response;
      bool lie = false;
      {
        absl::MutexLock lock(&mu_);
        std::vector<std::string> ids;
        for (const audit::v1::ActivityEvent& e : request.events()) {
          ids.push_back(e.event_id());
        }
        batches_.push_back(ids);
        lie = batches_.size() == 1 && ids.size() > 1;
      }
      for (int i = 0; i < request.events_size(); ++i) {
        audit::v1::ActivityAck* ack = response.add_acks();
        ack->set_event_id(request.events(lie && i == 1 ? 0 : i).event_id());
        ack->set_status(audit::v1::ACK_STATUS_STORED);
        ack->set_seq(i + 1);
      }
      if (!stream->Write(response)) {
        break;
      }
    }
    return grpc::Status::OK;
  }

  std::vector<std::vector<std::string>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
};

class RelayTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_TRUE(db::ApplyMigrations(dsn_, Migrations()).ok());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&audit_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
    }
  }

  // A relay of `dsn`'s outbox to the scripted audit, retrying quickly.
  RelayOptions Options(const std::string& dsn) {
    RelayOptions options;
    options.dsn = dsn;
    options.audit_channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    options.authorize = [](grpc::ClientContext&) { return absl::OkStatus(); };
    options.min_backoff = absl::Milliseconds(10);
    return options;
  }

  int64_t Undelivered() {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    return tx.exec1("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0].as<int64_t>();
  }

  ScriptedAudit audit_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(RelayTest, AnAckForAnotherEventMarksNothingAndTheBatchIsSentAgain) {
  ASSERT_TRUE(cluster_
                  ->Exec("INSERT INTO outbox (event_id, service, action, entity_type, entity_id) "
                         "SELECT gen_random_uuid(), 'test', 'thing.created', 'thing', i "
                         "FROM generate_series(1, 3) i",
                         db_name_)
                  .ok());
  RelayOptions options = Options(dsn_);
  Relay relay(options);
  relay.Start();
  for (int i = 0; i < 400 && relay.delivered() < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  relay.Stop();
  EXPECT_EQ(relay.delivered(), 3);
  EXPECT_EQ(Undelivered(), 0);
  const std::vector<std::vector<std::string>> batches = audit_.batches();
  ASSERT_GE(batches.size(), 2u);
  // The lie marked nothing: the same three events came again.
  EXPECT_EQ(batches[0].size(), 3u);
  EXPECT_EQ(batches[1], batches[0]);
}

TEST_F(RelayTest, BatchesAreBoundedByBytes) {
  ASSERT_TRUE(cluster_
                  ->Exec("INSERT INTO outbox (event_id, service, action, entity_type, entity_id, "
                         "details) SELECT gen_random_uuid(), 'test', 'thing.created', 'thing', i, "
                         "jsonb_build_object('notes', repeat('x', 30000)) "
                         "FROM generate_series(1, 20) i",
                         db_name_)
                  .ok());
  RelayOptions options = Options(dsn_);
  options.max_batch_bytes = 100000;  // three events of ~30 kB
  Relay relay(options);
  relay.Start();
  for (int i = 0; i < 400 && relay.delivered() < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  relay.Stop();
  EXPECT_EQ(relay.delivered(), 20);
  const std::vector<std::vector<std::string>> batches = audit_.batches();
  std::vector<std::string> all;
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_LE(batches[i].size(), 3u);
    if (i > 0) {  // the first, lied about, came again
      all.insert(all.end(), batches[i].begin(), batches[i].end());
    }
  }
  EXPECT_EQ(all.size(), 20u);
}

// A database gone silent (a blackhole: bytes accepted, never answered) holds
// the relay's thread at most one statement's bound, and Stop() not at all;
// when the database answers again the relay goes on where it was.
TEST_F(RelayTest, ASilentDatabaseNeitherHangsTheRelayNorItsStop) {
  auto proxy = crm::testing::TcpProxy::Start("127.0.0.1", cluster_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto insert = [&](int from, int to) {
    ASSERT_TRUE(cluster_
                    ->Exec(absl::StrCat("INSERT INTO outbox (event_id, service, action, "
                                        "entity_type, entity_id) SELECT gen_random_uuid(), "
                                        "'test', 'thing.created', 'thing', i "
                                        "FROM generate_series(",
                                        from, ", ", to, ") i"),
                           db_name_)
                    .ok());
  };
  RelayOptions options = Options(absl::StrCat("host=127.0.0.1 port=", (*proxy)->port(),
                                              " dbname=", db_name_, " user=", db_name_));
  options.max_backoff = absl::Milliseconds(200);
  options.idle_poll = absl::Milliseconds(100);
  auto wait_for = [](auto condition) {
    for (int i = 0; i < 400 && !condition(); ++i) {
      absl::SleepFor(absl::Milliseconds(25));
    }
    return condition();
  };
  {
    Relay relay(options);
    relay.Start();
    insert(1, 1);
    ASSERT_TRUE(wait_for([&] { return relay.delivered() == 1; }));
    (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kDrop);
    insert(2, 2);
    absl::SleepFor(absl::Milliseconds(500));  // the relay is now waiting on the silence
    const absl::Time stop_started = absl::Now();
    relay.Stop();
    EXPECT_LT(absl::Now() - stop_started, absl::Seconds(2));
  }
  (*proxy)->SetMode(crm::testing::TcpProxy::Mode::kPass);
  Relay relay(options);
  relay.Start();
  insert(3, 3);
  EXPECT_TRUE(wait_for([&] { return Undelivered() == 0; }));
  relay.Stop();
}

}  // namespace
}  // namespace crm::outbox
