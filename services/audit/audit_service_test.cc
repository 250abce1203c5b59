// AuditService served in-process on a real PostgreSQL database, called over
// gRPC as a client would, with tokens for each role.

#include "services/audit/audit_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/db/migrations.h"
#include "common/pagination/page_fill.h"
#include "common/server/runner.h"
#include "common/testing/pg_fixture.h"
#include "common/testing/test_tokens.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/activity_hash.h"
#include "services/audit/embedded_migrations.h"

namespace crm::audit {
namespace {

using auth::Role;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kAdminId = 1;
constexpr int64_t kAgentId = 2;
constexpr int64_t kOtherAgentId = 3;

std::string Uuid(int n) { return absl::StrFormat("00000000-0000-4000-8000-%012x", n); }

v1::ActivityEvent MakeEvent(int n, int64_t user_id = kAgentId,
                            const std::string& action = "lead.assigned", int64_t entity_id = 1,
                            const std::string& service = "leads") {
  v1::ActivityEvent e;
  e.set_event_id(Uuid(n));
  e.mutable_occurred_at()->set_seconds(1764028800 + n);
  e.set_service(service);
  e.set_user_id(user_id);
  e.set_action(action);
  e.set_entity_type("lead");
  e.set_entity_id(entity_id);
  e.set_details_json(absl::StrCat(R"({"n": )", n, "}"));
  return e;
}

class AuditServiceTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_TRUE(db::ApplyMigrations(dsn_, Migrations()).ok());
    pool_ = std::make_unique<db::Pool>(
        db::PoolOptions{.dsn = dsn_, .size = 4, .statements = ActivityRepository::Statements()});
    activities_ = std::make_unique<ActivityRepository>(pool_.get());
    // No clock skew allowance, so a test's short-lived token expires on time.
    authenticator_ = tokens_.NewAuthenticator({.clock_skew = absl::ZeroDuration()});
    page_tokens_ = std::make_unique<pagination::PageTokenCodec>("0123456789abcdef0123456789abcdef");
    executor_ = std::make_unique<server::BlockingExecutor>(4, 64);
    feed_ = std::make_unique<ActivityFeed>(absl::Milliseconds(200));
    service_ =
        std::make_unique<AuditServiceImpl>(AuditServiceDeps{.activities = activities_.get(),
                                                            .authenticator = authenticator_.get(),
                                                            .page_tokens = page_tokens_.get(),
                                                            .executor = executor_.get(),
                                                            .feed = feed_.get()});
    server::RunnerOptions options;
    options.service = "audit";
    runner_ = std::make_unique<server::Runner>(options);
    runner_->AddService(service_.get(), v1::AuditService::service_full_name());
    runner_->AddShutdownHook([this] { feed_->Shutdown(); });
    ASSERT_TRUE(runner_->Start().ok());
    stub_ = v1::AuditService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", runner_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (runner_ != nullptr) {
      runner_->Stop();
    }
  }

  // A SERVICE caller is the leads service unless `service` says otherwise.
  std::unique_ptr<grpc::ClientContext> Context(Role role, int64_t user_id, int seconds = 10,
                                               const std::string& service = "leads") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    context->AddMetadata(
        "authorization",
        "Bearer " + tokens_.For(role, user_id, role == Role::kService ? service : ""));
    return context;
  }

  // Sends each batch over one stream and returns the acks of each.
  grpc::Status Record(const std::vector<std::vector<v1::ActivityEvent>>& batches,
                      std::vector<v1::RecordActivitiesResponse>* responses,
                      Role role = Role::kService, const std::string& service = "leads") {
    auto context = Context(role, 100, 10, service);
    auto stream = stub_->RecordActivities(context.get());
    for (const auto& batch : batches) {
      v1::RecordActivitiesRequest request;
      for (const v1::ActivityEvent& e : batch) {
        *request.add_events() = e;
      }
      if (!stream->Write(request)) {
        break;
      }
      v1::RecordActivitiesResponse response;
      if (!stream->Read(&response)) {
        break;
      }
      responses->push_back(response);
    }
    stream->WritesDone();
    return stream->Finish();
  }

  std::vector<v1::ActivityAck> RecordOk(const std::vector<v1::ActivityEvent>& batch,
                                        const std::string& service = "leads") {
    std::vector<v1::RecordActivitiesResponse> responses;
    grpc::Status status = Record({batch}, &responses, Role::kService, service);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (responses.size() != 1) {
      ADD_FAILURE() << "no response";
      return {};
    }
    return {responses[0].acks().begin(), responses[0].acks().end()};
  }

  void RecordRange(int first, int last) {
    std::vector<v1::ActivityEvent> batch;
    for (int n = first; n <= last; ++n) {
      batch.push_back(MakeEvent(n));
    }
    RecordOk(batch);
  }

  std::vector<int64_t> ListSeqs(Role role, int64_t user_id, v1::ListActivitiesRequest request,
                                grpc::Status* status = nullptr) {
    v1::ListActivitiesResponse response;
    grpc::Status s = stub_->ListActivities(Context(role, user_id).get(), request, &response);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    std::vector<int64_t> seqs;
    for (const v1::Activity& a : response.activities()) {
      seqs.push_back(a.seq());
    }
    return seqs;
  }

  v1::VerifyActivitiesResponse Verify(int64_t from = 0, int64_t to = 0) {
    v1::VerifyActivitiesRequest request;
    request.set_from_seq(from);
    request.set_to_seq(to);
    v1::VerifyActivitiesResponse response;
    grpc::Status s =
        stub_->VerifyActivities(Context(Role::kAdmin, kAdminId).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  testing::TestTokens tokens_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<ActivityRepository> activities_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<pagination::PageTokenCodec> page_tokens_;
  std::unique_ptr<server::BlockingExecutor> executor_;
  std::unique_ptr<ActivityFeed> feed_;
  std::unique_ptr<AuditServiceImpl> service_;
  std::unique_ptr<server::Runner> runner_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

TEST_F(AuditServiceTest, StoresEachEventOnceWithGapFreeSeqsAndAChain) {
  std::vector<v1::ActivityAck> acks = RecordOk({MakeEvent(1), MakeEvent(2), MakeEvent(3)});
  ASSERT_EQ(acks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(acks[i].event_id(), Uuid(i + 1));
    EXPECT_EQ(acks[i].status(), v1::ACK_STATUS_STORED);
    EXPECT_EQ(acks[i].seq(), i + 1);
  }
  // Sent again (a relay that crashed before marking them delivered), and a
  // repeat inside one batch: acknowledged with the first copy's seq.
  acks = RecordOk({MakeEvent(2), MakeEvent(4), MakeEvent(4), MakeEvent(1)});
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[0].status(), v1::ACK_STATUS_DUPLICATE);
  EXPECT_EQ(acks[0].seq(), 2);
  EXPECT_EQ(acks[1].status(), v1::ACK_STATUS_STORED);
  EXPECT_EQ(acks[1].seq(), 4);
  EXPECT_EQ(acks[2].status(), v1::ACK_STATUS_DUPLICATE);
  EXPECT_EQ(acks[2].seq(), 4);
  EXPECT_EQ(acks[3].status(), v1::ACK_STATUS_DUPLICATE);
  EXPECT_EQ(acks[3].seq(), 1);

  v1::ListActivitiesRequest request;
  request.set_order(v1::ACTIVITY_ORDER_OLDEST_FIRST);
  v1::ListActivitiesResponse response;
  ASSERT_TRUE(
      stub_->ListActivities(Context(Role::kAdmin, kAdminId).get(), request, &response).ok());
  ASSERT_EQ(response.activities_size(), 4);
  std::string prev = GenesisHash();
  for (const v1::Activity& a : response.activities()) {
    EXPECT_EQ(a.prev_hash(), prev);
    EXPECT_EQ(a.hash().size(), kHashSize);
    prev = a.hash();
  }
  const v1::Activity& first = response.activities(0);
  EXPECT_EQ(first.event_id(), Uuid(1));
  EXPECT_EQ(first.details_json(), R"({"n": 1})");  // the producer's bytes
  EXPECT_EQ(first.timestamp().seconds(), 1764028801);
  EXPECT_EQ(first.service(), "leads");
  EXPECT_EQ(first.user_id(), kAgentId);
  EXPECT_TRUE(first.has_record_time());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(AuditServiceTest, RejectsInvalidEventsAndStoresTheRest) {
  v1::ActivityEvent bad = MakeEvent(2);
  bad.set_details_json("[1, 2]");
  v1::ActivityEvent no_time = MakeEvent(3);
  no_time.clear_occurred_at();
  std::vector<v1::ActivityAck> acks = RecordOk({MakeEvent(1), bad, no_time, MakeEvent(4)});
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[0].seq(), 1);
  EXPECT_EQ(acks[1].status(), v1::ACK_STATUS_REJECTED);
  EXPECT_EQ(acks[1].seq(), 0);
  EXPECT_THAT(acks[1].error(), HasSubstr("details_json"));
  EXPECT_EQ(acks[2].status(), v1::ACK_STATUS_REJECTED);
  EXPECT_THAT(acks[2].error(), HasSubstr("occurred_at"));
  EXPECT_EQ(acks[3].status(), v1::ACK_STATUS_STORED);
  EXPECT_EQ(acks[3].seq(), 2);  // no gap for the rejected ones
}

// An event the database refuses (here a constraint a test adds; in life a
// value no validation foresaw) is rejected on its own: the events around it
// are stored with a gap-free chain, and the stream goes on.
TEST_F(AuditServiceTest, AnEventTheDatabaseRefusesIsRejectedAloneAndTheStreamGoesOn) {
  ASSERT_TRUE(cluster_
                  ->Exec("ALTER TABLE activities ADD CONSTRAINT no_poison "
                         "CHECK (action <> 'test.poison')",
                         db_name_)
                  .ok());
  std::vector<v1::RecordActivitiesResponse> responses;
  const v1::ActivityEvent poison = MakeEvent(2, kAgentId, "test.poison");
  grpc::Status status =
      Record({{MakeEvent(1), poison, MakeEvent(3), poison}, {MakeEvent(4)}}, &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), 2u);
  const auto& acks = responses[0].acks();
  ASSERT_EQ(acks.size(), 4);
  EXPECT_EQ(acks[0].status(), v1::ACK_STATUS_STORED);
  EXPECT_EQ(acks[0].seq(), 1);
  EXPECT_EQ(acks[1].status(), v1::ACK_STATUS_REJECTED);
  EXPECT_EQ(acks[1].event_id(), Uuid(2));
  EXPECT_THAT(acks[1].error(), HasSubstr("SQLSTATE 23514"));
  EXPECT_THAT(acks[1].error(), ::testing::Not(HasSubstr("no_poison")));  // no SQL details
  EXPECT_EQ(acks[2].status(), v1::ACK_STATUS_STORED);
  EXPECT_EQ(acks[2].seq(), 2);
  EXPECT_EQ(acks[3].status(), v1::ACK_STATUS_REJECTED);  // its repeat follows it
  ASSERT_EQ(responses[1].acks_size(), 1);
  EXPECT_EQ(responses[1].acks(0).seq(), 3);
  const v1::VerifyActivitiesResponse verified = Verify();
  EXPECT_TRUE(verified.ok());
  EXPECT_EQ(verified.verified_count(), 3);
}

// Pages are bounded by bytes as well as rows: large activities come in
// several pages, each well under the message limit, with nothing lost.
TEST_F(AuditServiceTest, ListPagesAreBoundedByBytes) {
  const std::string details = absl::StrCat(R"({"notes": ")", std::string(60000, 'x'), "\"}");
  for (int first = 1; first <= 30; first += 10) {
    std::vector<v1::ActivityEvent> batch;
    for (int n = first; n < first + 10; ++n) {
      batch.push_back(MakeEvent(n));
      batch.back().set_details_json(details);
    }
    RecordOk(batch);
  }
  v1::ListActivitiesRequest request;
  request.set_page_size(1000);
  std::set<int64_t> seen;
  int pages = 0;
  do {
    v1::ListActivitiesResponse response;
    grpc::Status s =
        stub_->ListActivities(Context(Role::kAdmin, kAdminId).get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(response.ByteSizeLong(), pagination::kMaxPageBytes + 70000);
    EXPECT_GT(response.activities_size(), 0);
    for (const v1::Activity& a : response.activities()) {
      EXPECT_TRUE(seen.insert(a.seq()).second) << a.seq();
    }
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 30u);
  EXPECT_GE(pages, 2);
}

TEST_F(AuditServiceTest, EmptyBatchIsAPingAndOversizedRequestEndsTheStream) {
  EXPECT_TRUE(RecordOk({}).empty());
  std::vector<v1::ActivityEvent> huge;
  for (int n = 1; n <= 501; ++n) {
    huge.push_back(MakeEvent(n));
  }
  std::vector<v1::RecordActivitiesResponse> responses;
  grpc::Status status = Record({huge}, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(responses.empty());
  EXPECT_EQ(*activities_->HeadSeq(), 0);
}

TEST_F(AuditServiceTest, ManyStreamsAtOnceKeepTheChainGapFree) {
  constexpr int kStreams = 4;
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kStreams; ++t) {
    threads.emplace_back([this, t] {
      std::vector<std::vector<v1::ActivityEvent>> batches(kBatches);
      for (int b = 0; b < kBatches; ++b) {
        for (int i = 0; i < kPerBatch; ++i) {
          batches[b].push_back(MakeEvent(1 + ((t * kBatches + b) * kPerBatch) + i));
        }
      }
      std::vector<v1::RecordActivitiesResponse> responses;
      EXPECT_TRUE(Record(batches, &responses).ok());
      EXPECT_EQ(responses.size(), static_cast<size_t>(kBatches));
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const v1::VerifyActivitiesResponse verified = Verify();
  EXPECT_TRUE(verified.ok()) << verified.reason();
  EXPECT_EQ(verified.verified_count(), kStreams * kBatches * kPerBatch);
  EXPECT_EQ(verified.last_seq(), kStreams * kBatches * kPerBatch);
}

TEST_F(AuditServiceTest, AServiceRecordsOnlyInItsOwnName) {
  std::vector<v1::RecordActivitiesResponse> responses;
  // leads submitting an event that claims to come from auth.
  grpc::Status status =
      Record({{MakeEvent(1), MakeEvent(2, kAgentId, "user.created", 1, "auth")}}, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("events[1].service"));
  EXPECT_TRUE(responses.empty());
  // A SERVICE token that names no service.
  status = Record({{MakeEvent(3)}}, &responses, Role::kService, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(*activities_->HeadSeq(), 0);  // nothing stored: the events stay with their sender
}

TEST_F(AuditServiceTest, PermissionsPerRole) {
  RecordOk({MakeEvent(1, kAgentId), MakeEvent(2, kOtherAgentId), MakeEvent(3, kAgentId)});

  // Only services ingest.
  std::vector<v1::RecordActivitiesResponse> responses;
  EXPECT_EQ(Record({{MakeEvent(9)}}, &responses, Role::kAdmin).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto stream = stub_->RecordActivities(&context);
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  v1::ListActivitiesRequest all;
  EXPECT_THAT(ListSeqs(Role::kAdmin, kAdminId, all), ElementsAre(3, 2, 1));
  EXPECT_THAT(ListSeqs(Role::kService, 100, all), ElementsAre(3, 2, 1));
  EXPECT_THAT(ListSeqs(Role::kAgent, kAgentId, all), ElementsAre(3, 1));  // its own only
  grpc::Status status;
  v1::ListActivitiesRequest others = all;
  others.mutable_filter()->set_user_id(kOtherAgentId);
  EXPECT_TRUE(ListSeqs(Role::kAgent, kAgentId, others, &status).empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ListSeqs(Role::kClient, 50, all, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  for (Role role : {Role::kAgent, Role::kClient}) {
    v1::WatchActivitiesRequest request;
    request.set_from_seq(1);
    auto context = Context(role, kAgentId);
    auto reader = stub_->WatchActivities(context.get(), request);
    v1::WatchActivitiesResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  for (Role role : {Role::kAgent, Role::kClient, Role::kService}) {
    v1::VerifyActivitiesResponse response;
    EXPECT_EQ(stub_->VerifyActivities(Context(role, kAgentId).get(), {}, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(AuditServiceTest, ListFiltersAndPagesBothWays) {
  RecordOk({MakeEvent(1, kAgentId, "lead.created", 10), MakeEvent(2, kAgentId, "lead.assigned", 10),
            MakeEvent(3, kOtherAgentId, "lead.assigned", 11)});
  RecordOk({MakeEvent(4, kAgentId, "property.price_changed", 10, "properties")}, "properties");
  RecordOk({MakeEvent(5, kAgentId, "lead.assigned", 10)});
  auto list = [this](auto mutate) {
    v1::ListActivitiesRequest request;
    mutate(request);
    return ListSeqs(Role::kAdmin, kAdminId, request);
  };
  EXPECT_THAT(list([](auto& r) { r.mutable_filter()->set_user_id(kOtherAgentId); }),
              ElementsAre(3));
  EXPECT_THAT(list([](auto& r) {
                r.mutable_filter()->set_entity_type("lead");
                r.mutable_filter()->set_entity_id(10);
              }),
              ElementsAre(5, 4, 2, 1));
  EXPECT_THAT(list([](auto& r) { r.mutable_filter()->set_action("lead.assigned"); }),
              ElementsAre(5, 3, 2));
  EXPECT_THAT(list([](auto& r) { r.mutable_filter()->set_service("properties"); }), ElementsAre(4));
  EXPECT_THAT(list([](auto& r) {
                r.mutable_filter()->add_actions("lead.created");
                r.mutable_filter()->add_actions("property.price_changed");
                r.mutable_filter()->add_actions("lead.never_stored");
              }),
              ElementsAre(4, 1));
  EXPECT_THAT(list([](auto& r) {  // with action as well, both must match
                r.mutable_filter()->add_actions("lead.created");
                r.mutable_filter()->set_action("lead.assigned");
              }),
              ElementsAre());
  EXPECT_THAT(list([](auto& r) {
                r.mutable_filter()->mutable_start_time()->set_seconds(1764028802);
                r.mutable_filter()->mutable_end_time()->set_seconds(1764028804);
                r.set_order(v1::ACTIVITY_ORDER_OLDEST_FIRST);
              }),
              ElementsAre(2, 3));

  for (auto order : {v1::ACTIVITY_ORDER_NEWEST_FIRST, v1::ACTIVITY_ORDER_OLDEST_FIRST}) {
    v1::ListActivitiesRequest request;
    request.set_order(order);
    request.set_page_size(2);
    std::vector<int64_t> seen;
    for (int page = 0; page < 5; ++page) {
      v1::ListActivitiesResponse response;
      ASSERT_TRUE(
          stub_->ListActivities(Context(Role::kAdmin, kAdminId).get(), request, &response).ok());
      for (const v1::Activity& a : response.activities()) {
        seen.push_back(a.seq());
      }
      if (response.next_page_token().empty()) {
        break;
      }
      request.set_page_token(response.next_page_token());
    }
    if (order == v1::ACTIVITY_ORDER_NEWEST_FIRST) {
      EXPECT_THAT(seen, ElementsAre(5, 4, 3, 2, 1));
    } else {
      EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5));
    }
  }

  // A token only continues the query it came from.
  v1::ListActivitiesRequest request;
  request.set_page_size(1);
  v1::ListActivitiesResponse response;
  ASSERT_TRUE(
      stub_->ListActivities(Context(Role::kAdmin, kAdminId).get(), request, &response).ok());
  request.set_page_token(response.next_page_token());
  request.mutable_filter()->set_action("lead.created");
  grpc::Status status;
  ListSeqs(Role::kAdmin, kAdminId, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditServiceTest, WatchReplaysTheBacklogThenFollowsLiveWithoutGapOrDuplicate) {
  RecordRange(1, 5);
  v1::WatchActivitiesRequest request;
  request.set_from_seq(2);
  auto context = Context(Role::kService, 100, 30);
  auto reader = stub_->WatchActivities(context.get(), request);

  std::atomic<bool> stop{false};
  // New events land while the watcher is still catching up, and after.
  std::thread writer([this, &stop] {
    for (int n = 6; n <= 46 && !stop; n += 5) {  // up to seq 50
      RecordRange(n, n + 4);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::vector<int64_t> seqs;
  v1::WatchActivitiesResponse response;
  while (seqs.size() < 49 && reader->Read(&response)) {
    if (response.has_activity()) {
      seqs.push_back(response.activity().seq());
      EXPECT_GE(response.head_seq(), response.activity().seq());
    }
  }
  stop = true;
  writer.join();
  context->TryCancel();
  reader->Finish();
  ASSERT_EQ(seqs.size(), 49u);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], static_cast<int64_t>(i) + 2);
  }
}

TEST_F(AuditServiceTest, WatchFromZeroSendsOnlyNewAndHonoursTheFilter) {
  RecordRange(1, 3);
  v1::WatchActivitiesRequest request;  // from_seq 0: only what is stored from now on
  request.mutable_filter()->set_user_id(kOtherAgentId);
  auto context = Context(Role::kAdmin, kAdminId, 30);
  auto reader = stub_->WatchActivities(context.get(), request);
  reader->WaitForInitialMetadata();  // the watch has started: its head is read
  RecordOk({MakeEvent(4, kAgentId), MakeEvent(5, kOtherAgentId), MakeEvent(6, kAgentId),
            MakeEvent(7, kOtherAgentId)});
  std::vector<int64_t> seqs;
  v1::WatchActivitiesResponse response;
  while (seqs.size() < 2 && reader->Read(&response)) {
    if (response.has_activity()) {
      seqs.push_back(response.activity().seq());
    }
  }
  EXPECT_THAT(seqs, ElementsAre(5, 7));
  EXPECT_EQ(response.head_seq(), 7);
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A follower that asks for a few actions gets only those, and still learns
// at once how far the feed has been read past activities it did not want,
// without waiting for the keep-alive.
TEST_F(AuditServiceTest, WatchByActionsReportsProgressPastWhatDidNotMatch) {
  RecordOk({MakeEvent(1, kAgentId, "lead.created"), MakeEvent(2, kAgentId, "lead.viewed"),
            MakeEvent(3, kAgentId, "lead.assigned")});
  v1::WatchActivitiesRequest request;
  request.set_from_seq(1);
  request.mutable_filter()->add_actions("lead.assigned");
  request.mutable_filter()->add_actions("lead.created");
  auto context = Context(Role::kService, 100, 30);
  auto reader = stub_->WatchActivities(context.get(), request);
  std::vector<int64_t> seqs;
  v1::WatchActivitiesResponse response;
  while (seqs.size() < 2 && reader->Read(&response)) {
    if (response.has_activity()) {
      seqs.push_back(response.activity().seq());
    }
  }
  EXPECT_THAT(seqs, ElementsAre(1, 3));
  EXPECT_EQ(response.head_seq(), 3);

  // Only unwanted activities now: one message with no activity says the
  // feed has been read through them.
  const absl::Time recorded = absl::Now();
  RecordOk({MakeEvent(4, kAgentId, "lead.viewed"), MakeEvent(5, kAgentId, "lead.noted")});
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_FALSE(response.has_activity());
  EXPECT_EQ(response.head_seq(), 5);
  EXPECT_LT(absl::Now() - recorded, absl::Seconds(5));  // not the 15 s keep-alive

  RecordOk({MakeEvent(6, kAgentId, "lead.assigned")});
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(response.has_activity());
  EXPECT_EQ(response.activity().seq(), 6);
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(AuditServiceTest, ShutdownEndsLiveFeedsWithUnavailable) {
  v1::WatchActivitiesRequest request;
  auto context = Context(Role::kAdmin, kAdminId, 30);
  auto reader = stub_->WatchActivities(context.get(), request);
  reader->WaitForInitialMetadata();  // the watch is live
  const absl::Time start = absl::Now();
  runner_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // not the whole drain period
  v1::WatchActivitiesResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A stream's token is checked when it opens; an account revoked or demoted
// since must not keep its streams, so they end once that token expires.
TEST_F(AuditServiceTest, StreamsEndWithUnauthenticatedOnceTheirTokenExpires) {
  const absl::Time issued = absl::Now();
  auto context_with_token = [](const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    context->AddMetadata("authorization", "Bearer " + token);
    return context;
  };
  // exp is in whole seconds: these expire 2 to 3 seconds from now.
  auto watch_context =
      context_with_token(tokens_.For(Role::kAdmin, kAdminId, "", absl::Seconds(3)));
  auto record_context =
      context_with_token(tokens_.For(Role::kService, 100, "leads", absl::Seconds(3)));
  // From seq 1, not from the head: the watch may start before or after the
  // first event is stored, and must see it either way.
  v1::WatchActivitiesRequest from_first;
  from_first.set_from_seq(1);
  auto watch = stub_->WatchActivities(watch_context.get(), from_first);
  auto record = stub_->RecordActivities(record_context.get());

  v1::RecordActivitiesRequest first;
  *first.add_events() = MakeEvent(1);
  v1::RecordActivitiesResponse acks;
  ASSERT_TRUE(record->Write(first));
  ASSERT_TRUE(record->Read(&acks));
  EXPECT_EQ(acks.acks(0).status(), v1::ACK_STATUS_STORED);
  v1::WatchActivitiesResponse seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.activity().seq(), 1);

  std::this_thread::sleep_until(absl::ToChronoTime(issued + absl::Milliseconds(3500)));
  v1::RecordActivitiesRequest second;
  *second.add_events() = MakeEvent(2);
  if (record->Write(second)) {
    EXPECT_FALSE(record->Read(&acks));
  }
  grpc::Status record_status = record->Finish();
  EXPECT_EQ(record_status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(record_status.error_message(), HasSubstr("expired"));
  while (watch->Read(&seen)) {
    EXPECT_FALSE(seen.has_activity()) << seen.activity().seq();
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ListSeqs(Role::kAdmin, kAdminId, {}), ElementsAre(1));  // event 2 was refused
}

TEST_F(AuditServiceTest, VerifyNamesTheSeqOfARowEditedOrDeletedBySuperuser) {
  RecordRange(1, 10);
  v1::VerifyActivitiesResponse ok = Verify();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.verified_count(), 10);
  EXPECT_EQ(ok.last_seq(), 10);
  EXPECT_EQ(ok.last_hash().size(), kHashSize);

  ASSERT_TRUE(
      cluster_->Exec(R"(UPDATE activities SET details_json = '{"n": 700}' WHERE id = 7)", db_name_)
          .ok());
  v1::VerifyActivitiesResponse edited = Verify();
  EXPECT_FALSE(edited.ok());
  EXPECT_EQ(edited.first_bad_seq(), 7);
  EXPECT_EQ(edited.reason(), "hash mismatch");
  EXPECT_EQ(edited.verified_count(), 6);
  EXPECT_TRUE(Verify(1, 6).ok());
  EXPECT_TRUE(Verify(8, 10).ok());  // anchored on row 7's stored hash

  ASSERT_TRUE(cluster_->Exec("UPDATE activities SET user_id = 99 WHERE id = 2", db_name_).ok());
  EXPECT_EQ(Verify().first_bad_seq(), 2);

  ASSERT_TRUE(cluster_->Exec("DELETE FROM activities WHERE id = 1", db_name_).ok());
  v1::VerifyActivitiesResponse deleted = Verify();
  EXPECT_EQ(deleted.first_bad_seq(), 1);
  EXPECT_EQ(deleted.reason(), "missing row");
}

TEST_F(AuditServiceTest, TheServiceRoleCanOnlyInsertAndSelect) {
  RecordRange(1, 2);
  pqxx::connection conn(dsn_);  // the role the service runs as (owns the database)
  for (const char* sql : {"UPDATE activities SET action = 'x.y' WHERE id = 1",
                          "DELETE FROM activities WHERE id = 1", "TRUNCATE activities"}) {
    pqxx::work tx(conn);
    EXPECT_THROW(tx.exec(sql), pqxx::insufficient_privilege) << sql;
  }
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM activities")[0][0].as<int>(), 2);
}

// The stricter deployment of deploy/README.md: an owner role migrates, and
// the service runs as a role that only has SELECT and INSERT by default
// privileges, so it could not grant itself more.
TEST_F(AuditServiceTest, ServiceRunsAsANonOwnerRoleWithOnlySelectAndInsert) {
  auto owner_dsn = cluster_->CreateServiceDatabase("crm_audit_owner_test");
  ASSERT_TRUE(owner_dsn.ok()) << owner_dsn.status();
  ASSERT_TRUE(cluster_->Exec("CREATE ROLE crm_audit_runtime_test LOGIN").ok());
  ASSERT_TRUE(cluster_
                  ->Exec("ALTER DEFAULT PRIVILEGES FOR ROLE crm_audit_owner_test IN SCHEMA public "
                         "GRANT SELECT, INSERT ON TABLES TO crm_audit_runtime_test",
                         "crm_audit_owner_test")
                  .ok());
  ASSERT_TRUE(db::ApplyMigrations(*owner_dsn, Migrations()).ok());
  const std::string runtime_dsn = cluster_->Dsn("crm_audit_owner_test", "crm_audit_runtime_test");
  // At start-up the service checks the migrations with its own role.
  absl::Status checked = db::ApplyMigrations(runtime_dsn, Migrations());
  ASSERT_TRUE(checked.ok()) << checked;

  db::Pool pool(db::PoolOptions{
      .dsn = runtime_dsn, .size = 1, .statements = ActivityRepository::Statements()});
  ActivityRepository repository(&pool);
  absl::StatusOr<std::vector<AppendResult>> appended =
      repository.Append({Event{.event_id = Uuid(1),
                               .occurred_at_micros = 1764028800000000,
                               .service = "leads",
                               .user_id = 2,
                               .action = "lead.created",
                               .entity_type = "lead",
                               .entity_id = 1,
                               .details_json = "{}"}});
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ((*appended)[0].seq, 1);
  for (const std::string& dsn : {runtime_dsn, *owner_dsn}) {
    pqxx::connection conn(dsn);
    pqxx::work tx(conn);
    EXPECT_THROW(tx.exec("UPDATE activities SET user_id = 9"), pqxx::insufficient_privilege);
  }
  // Not the owner: granting itself UPDATE grants nothing (PostgreSQL only warns).
  pqxx::connection conn(runtime_dsn);
  pqxx::nontransaction(conn).exec("GRANT UPDATE ON activities TO crm_audit_runtime_test");
  pqxx::work tx(conn);
  EXPECT_THROW(tx.exec("UPDATE activities SET user_id = 9"), pqxx::insufficient_privilege);
}

}  // namespace
}  // namespace crm::audit
