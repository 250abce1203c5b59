// The leads service through its real binary, with the real auth binary as
// its directory and token issuer, each on its own throwaway database: every
// rule of intake, de-duplication, routing, access and events, seen as a
// client sees it (and the outbox checked in SQL).

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/testing/domain_service_test.h"
#include "common/testing/outbox_events.h"
#include "common/testing/test_auth.h"
#include "common/testing/test_calls.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crm::leads {
namespace {

using json = nlohmann::json;
namespace lv1 = ::crm::leads::v1;
namespace av1 = ::crm::auth::v1;

constexpr char kLeadsSecret[] = "leads-service-account-secret";
constexpr char kZillowSecret[] = "zillow-service-account-secret";

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  return crm::testing::CallContext(token);
}

// The google.rpc detail of `type` in a status, if any.
template <typename Detail>
std::optional<Detail> DetailOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const google::protobuf::Any& any : details.details()) {
    Detail detail;
    if (any.UnpackTo(&detail)) {
      return detail;
    }
  }
  return std::nullopt;
}

using User = ::crm::testing::TestUser;

// One cluster per suite, and per test crm-leads on the test's database and
// crm-auth beside it (DomainServiceTest).
class LeadServiceTest : public crm::testing::DomainServiceTest {
 protected:
  LeadServiceTest()
      : DomainServiceTest("leads", {{"leads", kLeadsSecret}, {"zillow", kZillowSecret}}) {}

  void ServiceStarted() override { stub_ = lv1::LeadService::NewStub(service().channel()); }

  User Login(const std::string& email, const std::string& password) {
    absl::StatusOr<User> user = auth().Login(email, password);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : User{};
  }

  User CreateUser(const std::string& name, av1::Role role) {
    absl::StatusOr<User> user = auth().CreateUser(name, role);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : User{};
  }

  void Deactivate(int64_t id) { ASSERT_TRUE(auth().Deactivate(id).ok()); }

  grpc::Status Create(const User& caller, const lv1::Lead& lead, lv1::Lead* out = nullptr,
                      const std::string& request_id = "") {
    lv1::CreateLeadRequest request;
    *request.mutable_lead() = lead;
    request.set_request_id(request_id);
    lv1::CreateLeadResponse response;
    grpc::Status status = stub_->CreateLead(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.lead();
    }
    return status;
  }

  static lv1::Lead NewLead(const std::string& name, const std::string& email,
                           const std::string& phone = "") {
    lv1::Lead lead;
    lead.set_name(name);
    lead.set_email(email);
    lead.set_phone(phone);
    return lead;
  }

  grpc::Status Capture(const User& caller, const lv1::CaptureLeadRequest& request,
                       lv1::CaptureLeadResponse* out = nullptr) {
    lv1::CaptureLeadResponse response;
    grpc::Status status = stub_->CaptureLead(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response;
    }
    return status;
  }

  static lv1::CaptureLeadRequest CaptureOf(const std::string& name, const std::string& email,
                                           const std::string& source = "website",
                                           const std::string& message = "") {
    lv1::CaptureLeadRequest request;
    request.set_name(name);
    request.set_email(email);
    request.set_source(source);
    request.set_message(message);
    return request;
  }

  grpc::Status Get(const User& caller, int64_t id, lv1::Lead* out = nullptr) {
    lv1::GetLeadRequest request;
    request.set_id(id);
    lv1::GetLeadResponse response;
    grpc::Status status = stub_->GetLead(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.lead();
    }
    return status;
  }

  // The outbox's activities, oldest first: action and details.
  std::vector<std::pair<std::string, json>> Events(int64_t lead_id = 0) {
    return crm::testing::OutboxEvents(dsn_, lead_id);
  }

  std::vector<std::string> Actions(int64_t lead_id = 0) {
    return crm::testing::OutboxActions(dsn_, lead_id);
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  std::unique_ptr<lv1::LeadService::Stub> stub_;
};

// GetLead and ListLeads are taken raw and parse their own requests: bytes that
// are no request of theirs are INVALID_ARGUMENT naming the message, from
// anyone, and the service answers normally after.
TEST_F(LeadServiceTest, RawMethodsRefuseBytesThatAreNoRequest) {
  grpc::GenericStub generic(service().channel());
  for (const char* method :
       {"/crm.leads.v1.LeadService/GetLead", "/crm.leads.v1.LeadService/ListLeads"}) {
    for (const std::string& bytes : {std::string("\xff\xff\xff"),
                                     std::string("\x0a\x05"
                                                 "ab"),
                                     std::string("\x08")}) {
      grpc::Slice slice(bytes);
      const grpc::ByteBuffer request(&slice, 1);
      grpc::ByteBuffer response;
      absl::Notification done;
      grpc::Status status;
      auto context = Context(admin_.token);
      generic.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response,
                        [&](grpc::Status s) {
                          status = std::move(s);
                          done.Notify();
                        });
      done.WaitForNotification();
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
      EXPECT_THAT(status.error_message(), ::testing::HasSubstr("is not a valid crm.leads.v1."))
          << method;
    }
  }
  lv1::ListLeadsResponse listed;
  EXPECT_TRUE(stub_->ListLeads(Context(admin_.token).get(), {}, &listed).ok());
}

TEST_F(LeadServiceTest, CreateValidatesEachFieldByName) {
  const User agent = CreateUser("vera", av1::ROLE_AGENT);
  struct Case {
    lv1::Lead lead;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({NewLead("", "a@example.com"), "lead.name"});
  cases.push_back({NewLead(std::string(101, 'x'), "a@example.com"), "lead.name"});
  cases.push_back({NewLead("Ann", "not-an-email"), "lead.email"});
  cases.push_back({NewLead("Ann", "", "no digits here"), "lead.phone"});
  lv1::Lead bad_source = NewLead("Ann", "a@example.com");
  bad_source.set_source("Zillow Premier");
  cases.push_back({bad_source, "lead.source"});
  lv1::Lead bad_status = NewLead("Ann", "a@example.com");
  bad_status.set_status(static_cast<lv1::LeadStatus>(99));
  cases.push_back({bad_status, "lead.status"});
  lv1::Lead other_agent = NewLead("Ann", "a@example.com");
  other_agent.set_assigned_to(admin_.id);
  cases.push_back({other_agent, "lead.assigned_to"});
  lv1::Lead long_notes = NewLead("Ann", "a@example.com");
  long_notes.set_notes(std::string(20001, 'n'));
  cases.push_back({long_notes, "lead.notes"});
  for (const Case& c : cases) {
    grpc::Status status = Create(agent, c.lead);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    auto bad_request = DetailOf<google::rpc::BadRequest>(status);
    ASSERT_TRUE(bad_request.has_value()) << c.field << ": " << status.error_message();
    EXPECT_EQ(bad_request->field_violations(0).field(), c.field);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM leads"), 0);
  // An admin may not assign to a non-agent either.
  lv1::Lead to_admin = NewLead("Ann", "a@example.com");
  to_admin.set_assigned_to(admin_.id);
  EXPECT_EQ(Create(admin_, to_admin).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(LeadServiceTest, CreateStoresContactKeysAndTheAgentsOwnership) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  lv1::Lead created;
  lv1::Lead lead = NewLead("  Jane Doe ", " Jane.Doe@Example.COM ", "(415) 555-0123 x7");
  lead.set_notes("wants a yard");
  ASSERT_TRUE(Create(agent, lead, &created).ok());
  EXPECT_EQ(created.name(), "Jane Doe");
  EXPECT_EQ(created.email(), "Jane.Doe@Example.COM");
  EXPECT_EQ(created.assigned_to(), agent.id);
  EXPECT_EQ(created.status(), lv1::LEAD_STATUS_NEW);
  EXPECT_EQ(created.source(), "manual");
  EXPECT_EQ(created.version(), 1);
  EXPECT_EQ(created.routing().rule(), "creator");
  EXPECT_TRUE(created.has_assign_time());
  pqxx::connection conn(dsn_);
  pqxx::nontransaction tx(conn);
  pqxx::row row = tx.exec_params1("SELECT email_key, phone_e164, status FROM leads WHERE id = $1",
                                  created.id());
  EXPECT_EQ(row[0].as<std::string>(), "jane.doe@example.com");
  EXPECT_EQ(row[1].as<std::string>(), "+14155550123");
  EXPECT_EQ(row[2].as<std::string>(), "NEW");
  // A number that does not parse is kept as given and never matched.
  lv1::Lead garbage;
  ASSERT_TRUE(Create(agent, NewLead("Gus", "", "call 123"), &garbage).ok());
  EXPECT_EQ(garbage.phone(), "call 123");
  EXPECT_TRUE(tx.exec_params1("SELECT phone_e164 IS NULL FROM leads WHERE id = $1", garbage.id())[0]
                  .as<bool>());
  ASSERT_TRUE(Create(agent, NewLead("Gil", "", "call 123")).ok());
  // The same request id returns the first lead and creates nothing.
  lv1::Lead first, again;
  ASSERT_TRUE(Create(agent, NewLead("Rita", "rita@example.com"), &first, "req-1").ok());
  ASSERT_TRUE(Create(agent, NewLead("Rita", "rita@example.com"), &again, "req-1").ok());
  EXPECT_EQ(first.id(), again.id());
  EXPECT_EQ(Count("SELECT count(*) FROM leads WHERE email_key = 'rita@example.com'"), 1);
}

// Agent B learns the person is a lead already, and nothing about A's lead.
TEST_F(LeadServiceTest, DuplicateRefusalNamesTheLeadOnlyToWhoMaySeeIt) {
  const User a = CreateUser("alma", av1::ROLE_AGENT);
  const User b = CreateUser("bruno", av1::ROLE_AGENT);
  lv1::Lead lead;
  ASSERT_TRUE(Create(a, NewLead("Jane Doe", "jane@example.com", "+1 415 555 0100"), &lead).ok());
  const auto resource = [](const grpc::Status& status) {
    auto info = DetailOf<google::rpc::ResourceInfo>(status);
    return info.has_value() ? info->resource_name() : std::string();
  };
  grpc::Status by_b = Create(b, NewLead("J. Doe", "JANE@example.com "));
  EXPECT_EQ(by_b.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(resource(by_b), "");
  EXPECT_EQ(by_b.error_message().find(std::to_string(lead.id())), std::string::npos);
  EXPECT_EQ(by_b.error_message().find("alma"), std::string::npos);
  EXPECT_EQ(by_b.error_message().find("Jane"), std::string::npos);
  // Same phone written another way.
  grpc::Status by_phone = Create(b, NewLead("Other", "other@example.com", "(415) 555-0100"));
  EXPECT_EQ(by_phone.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(resource(by_phone), "");
  // The owner and an admin are told which lead it is.
  grpc::Status by_a = Create(a, NewLead("Jane", "jane@example.com"));
  EXPECT_EQ(by_a.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(resource(by_a), absl::StrCat("leads/", lead.id()));
  grpc::Status by_admin = Create(admin_, NewLead("Jane", "jane@example.com"));
  EXPECT_EQ(resource(by_admin), absl::StrCat("leads/", lead.id()));
  EXPECT_EQ(Count("SELECT count(*) FROM leads"), 1);
}

TEST_F(LeadServiceTest, CaptureMergesByExternalIdEmailThenPhoneAndOnlyWhenSomethingChanges) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  lv1::CaptureLeadRequest first =
      CaptureOf("Jane Doe", "jane@example.com", "zillow", "Is 12 Oak St still available?");
  first.set_external_id("z-1");
  lv1::CaptureLeadResponse created;
  ASSERT_TRUE(Capture(admin_, first, &created).ok());
  EXPECT_EQ(created.outcome(), lv1::CAPTURE_OUTCOME_CREATED);
  EXPECT_EQ(created.lead().assigned_to(), agent.id);
  EXPECT_EQ(created.lead().notes(), "Is 12 Oak St still available?");
  const int64_t id = created.lead().id();

  // Same source and external id, new message and a phone: merged, filled.
  lv1::CaptureLeadRequest again = CaptureOf("", "", "zillow", "Can I see it Saturday?");
  again.set_external_id("z-1");
  again.set_phone("415-555-0199");
  again.mutable_received_time()->set_seconds(1796030100);  // 2026-11-30T09:15:00Z
  lv1::CaptureLeadResponse merged;
  ASSERT_TRUE(Capture(admin_, again, &merged).ok()) << "name not needed for a merge";
  EXPECT_EQ(merged.outcome(), lv1::CAPTURE_OUTCOME_MERGED);
  EXPECT_EQ(merged.dedupe_match(), lv1::DEDUPE_MATCH_EXTERNAL_ID);
  EXPECT_EQ(merged.lead().id(), id);
  EXPECT_EQ(merged.lead().phone(), "415-555-0199");
  EXPECT_EQ(merged.lead().notes(), "Is 12 Oak St still available?\n\nCan I see it Saturday?");
  EXPECT_EQ(merged.lead().version(), 2);
  EXPECT_EQ(merged.lead().assigned_to(), agent.id);

  // The same capture again changes nothing: nothing written, no activity.
  const size_t events = Events(id).size();
  lv1::CaptureLeadResponse unchanged;
  ASSERT_TRUE(Capture(admin_, again, &unchanged).ok());
  EXPECT_EQ(unchanged.lead().version(), 2);
  EXPECT_EQ(Events(id).size(), events);

  // Another source, same email (case and spaces aside): merged by email.
  lv1::CaptureLeadResponse by_email;
  ASSERT_TRUE(
      Capture(admin_, CaptureOf("Jane", " JANE@example.com", "realtor_com", "Price?"), &by_email)
          .ok());
  EXPECT_EQ(by_email.dedupe_match(), lv1::DEDUPE_MATCH_EMAIL);
  EXPECT_EQ(by_email.lead().id(), id);
  EXPECT_EQ(by_email.lead().external_id(), "z-1") << "another source's id is not taken";
  // By phone, written differently.
  lv1::CaptureLeadRequest by_phone_request =
      CaptureOf("Jane", "", "open_house", "Met at open house");
  by_phone_request.set_phone("+1 (415) 555 0199");
  lv1::CaptureLeadResponse by_phone;
  ASSERT_TRUE(Capture(admin_, by_phone_request, &by_phone).ok());
  EXPECT_EQ(by_phone.dedupe_match(), lv1::DEDUPE_MATCH_PHONE);
  EXPECT_EQ(by_phone.lead().id(), id);
  EXPECT_EQ(Count("SELECT count(*) FROM leads"), 1);

  std::vector<std::string> actions = Actions(id);
  EXPECT_EQ(actions, (std::vector<std::string>{"lead.captured", "lead.assigned", "lead.inquiry",
                                               "lead.inquiry", "lead.inquiry"}));
  const json inquiry = Events(id)[2].second;
  EXPECT_EQ(inquiry["match"], "external_id");
  EXPECT_EQ(inquiry["message"], "Can I see it Saturday?");
  EXPECT_EQ(inquiry["received_time"], "2026-11-30T09:15:00.000000Z");
  EXPECT_THAT(inquiry["filled"].get<std::vector<std::string>>(),
              ::testing::UnorderedElementsAre("phone", "notes"));
  // No match and no name: refused, naming the field.
  grpc::Status nameless = Capture(admin_, CaptureOf("", "new@example.com"));
  EXPECT_EQ(nameless.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(nameless.error_message().find("name"), std::string::npos);
  EXPECT_EQ(Capture(admin_, CaptureOf("No Contact", "")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Twenty clients retrying one capture at once: one lead, one set of events.
TEST_F(LeadServiceTest, ConcurrentIdenticalCapturesMakeOneLead) {
  CreateUser("ana", av1::ROLE_AGENT);
  for (const bool with_request_id : {true, false}) {
    const std::string email = with_request_id ? "twenty@example.com" : "twenty2@example.com";
    std::vector<std::thread> clients;
    std::atomic<int> ok{0}, created{0};
    absl::Mutex mu;
    std::set<int64_t> ids;
    for (int i = 0; i < 20; ++i) {
      clients.emplace_back([&] {
        lv1::CaptureLeadRequest request = CaptureOf("Twenty", email, "zillow", "Hello");
        request.set_external_id(email);
        if (with_request_id) {
          request.set_request_id("zillow-msg-1");
        }
        lv1::CaptureLeadResponse response;
        if (Capture(admin_, request, &response).ok()) {
          ++ok;
          created += response.outcome() == lv1::CAPTURE_OUTCOME_CREATED ? 1 : 0;
          absl::MutexLock lock(&mu);
          ids.insert(response.lead().id());
        }
      });
    }
    for (std::thread& t : clients) {
      t.join();
    }
    EXPECT_EQ(ok.load(), 20);
    EXPECT_EQ(ids.size(), 1u);
    if (with_request_id) {
      EXPECT_EQ(created.load(), 20) << "a retry returns the first outcome";
    } else {
      EXPECT_EQ(created.load(), 1);
    }
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(Actions(*ids.begin()), (std::vector<std::string>{"lead.captured", "lead.assigned"}));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM leads"), 2);
}

TEST_F(LeadServiceTest, RoundRobinIsFairUnderConcurrencyAndSurvivesARestart) {
  std::vector<User> agents = {CreateUser("ana", av1::ROLE_AGENT),
                              CreateUser("ben", av1::ROLE_AGENT),
                              CreateUser("cleo", av1::ROLE_AGENT)};
  CreateUser("carl", av1::ROLE_CLIENT);  // not an agent: never routed to
  const User zillow = Login("zillow@service.crm.local", kZillowSecret);
  std::vector<std::thread> clients;
  absl::Mutex mu;
  std::map<int64_t, int> per_agent;
  std::atomic<int> failures{0};
  for (int c = 0; c < 10; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 3; ++i) {
        lv1::CaptureLeadResponse response;
        grpc::Status status =
            Capture(zillow,
                    CaptureOf(absl::StrCat("Buyer ", c, "-", i),
                              absl::StrCat("buyer", c, "-", i, "@example.com"), "zillow"),
                    &response);
        if (!status.ok()) {
          ++failures;
          continue;
        }
        absl::MutexLock lock(&mu);
        ++per_agent[response.lead().assigned_to()];
      }
    });
  }
  for (std::thread& t : clients) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  for (const User& agent : agents) {
    EXPECT_EQ(per_agent[agent.id], 10) << agent.id;
  }
  // The decision is on the lead, readable by its agent.
  lv1::CaptureLeadResponse last;
  ASSERT_TRUE(Capture(admin_, CaptureOf("Last", "last@example.com"), &last).ok());
  const int64_t after_restart_expected = [&] {
    for (size_t i = 0; i < agents.size(); ++i) {
      if (agents[i].id == last.lead().assigned_to()) {
        return agents[(i + 1) % agents.size()].id;
      }
    }
    return int64_t{0};
  }();
  const User& owner = *std::find_if(agents.begin(), agents.end(), [&](const User& a) {
    return a.id == last.lead().assigned_to();
  });
  lv1::Lead seen;
  ASSERT_TRUE(Get(owner, last.lead().id(), &seen).ok());
  EXPECT_EQ(seen.routing().rule(), "round_robin");
  EXPECT_EQ(seen.routing().agent_id(), owner.id);
  EXPECT_THAT(seen.routing().candidate_agent_ids(),
              ::testing::ElementsAre(agents[0].id, agents[1].id, agents[2].id));
  EXPECT_NE(seen.routing().reason(), "");
  EXPECT_TRUE(seen.routing().has_decide_time());

  // A restart resumes the rotation where it was.
  StartService();
  lv1::CaptureLeadResponse next;
  ASSERT_TRUE(Capture(admin_, CaptureOf("Next", "next@example.com"), &next).ok());
  EXPECT_EQ(next.lead().assigned_to(), after_restart_expected);
  const json assigned = Events(next.lead().id())[1].second;
  EXPECT_EQ(Events(next.lead().id())[1].first, "lead.assigned");
  EXPECT_EQ(assigned["routing"]["rule"], "round_robin");
  EXPECT_EQ(assigned["routing"]["candidates"].size(), 3u);
}

TEST_F(LeadServiceTest, DeactivatedAgentStopsReceivingLeadsAndNoAgentLeavesThePond) {
  const User ana = CreateUser("ana", av1::ROLE_AGENT);
  const User ben = CreateUser("ben", av1::ROLE_AGENT);
  Deactivate(ben.id);
  // The directory's answers live a second here (--directory_cache_seconds).
  absl::SleepFor(absl::Milliseconds(1500));
  for (int i = 0; i < 4; ++i) {
    lv1::CaptureLeadResponse response;
    ASSERT_TRUE(
        Capture(admin_, CaptureOf("P", absl::StrCat("p", i, "@example.com")), &response).ok());
    EXPECT_EQ(response.lead().assigned_to(), ana.id);
  }
  Deactivate(ana.id);
  absl::SleepFor(absl::Milliseconds(1500));
  lv1::CaptureLeadResponse pond;
  ASSERT_TRUE(Capture(admin_, CaptureOf("Pond", "pond@example.com"), &pond).ok());
  EXPECT_EQ(pond.lead().assigned_to(), 0);
  EXPECT_EQ(pond.lead().routing().reason(), "no active agent");
  EXPECT_EQ(Actions(pond.lead().id()), (std::vector<std::string>{"lead.captured"}));
  EXPECT_EQ(Events(pond.lead().id())[0].second["routing"]["agent_id"], 0);
}

TEST_F(LeadServiceTest, TwoAgentsClaimingAtOnceExactlyOneWins) {
  const User a = CreateUser("ana", av1::ROLE_AGENT);
  const User b = CreateUser("ben", av1::ROLE_AGENT);
  lv1::Lead lead;
  ASSERT_TRUE(Create(admin_, NewLead("Unclaimed", "u@example.com"), &lead).ok());
  ASSERT_EQ(lead.assigned_to(), 0);
  for (int round = 0; round < 5; ++round) {
    lv1::Lead pooled;
    ASSERT_TRUE(
        Create(admin_, NewLead("Pool", absl::StrCat("pool", round, "@example.com")), &pooled).ok());
    std::atomic<int> won{0}, lost{0};
    std::vector<std::thread> claimers;
    for (const User* agent : {&a, &b}) {
      claimers.emplace_back([&, agent] {
        lv1::ClaimLeadRequest request;
        request.set_lead_id(pooled.id());
        lv1::ClaimLeadResponse response;
        grpc::Status status = stub_->ClaimLead(Context(agent->token).get(), request, &response);
        if (status.ok()) {
          ++won;
        } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++lost;
        }
      });
    }
    for (std::thread& t : claimers) {
      t.join();
    }
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(lost.load(), 1);
    EXPECT_EQ(Actions(pooled.id()), (std::vector<std::string>{"lead.created", "lead.claimed"}));
  }
  // Claiming one's own lead again changes nothing.
  lv1::ClaimLeadRequest mine;
  mine.set_lead_id(lead.id());
  lv1::ClaimLeadResponse first, second;
  ASSERT_TRUE(stub_->ClaimLead(Context(a.token).get(), mine, &first).ok());
  ASSERT_TRUE(stub_->ClaimLead(Context(a.token).get(), mine, &second).ok());
  EXPECT_EQ(first.lead().version(), second.lead().version());
  EXPECT_EQ(second.lead().routing().rule(), "claim");
}

TEST_F(LeadServiceTest, UpdateChecksVersionWritesOldAndNewValuesAndStatusChanges) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  lv1::Lead lead;
  ASSERT_TRUE(Create(agent, NewLead("Jane", "jane@example.com"), &lead).ok());
  lv1::UpdateLeadRequest request;
  request.mutable_lead()->set_id(lead.id());
  request.mutable_lead()->set_status(lv1::LEAD_STATUS_CONTACTED);
  request.mutable_lead()->set_notes("called, call back Tuesday");
  request.mutable_update_mask()->add_paths("status");
  request.mutable_update_mask()->add_paths("notes");
  request.set_version(lead.version() + 5);
  lv1::UpdateLeadResponse response;
  EXPECT_EQ(stub_->UpdateLead(Context(agent.token).get(), request, &response).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(Actions(lead.id()), (std::vector<std::string>{"lead.created", "lead.assigned"}));
  request.set_version(lead.version());
  ASSERT_TRUE(stub_->UpdateLead(Context(admin_.token).get(), request, &response).ok());
  EXPECT_EQ(response.lead().status(), lv1::LEAD_STATUS_CONTACTED);
  EXPECT_EQ(response.lead().version(), lead.version() + 1);
  auto events = Events(lead.id());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].first, "lead.updated");
  EXPECT_EQ(events[2].second["changes"]["status"]["old"], "NEW");
  EXPECT_EQ(events[2].second["changes"]["status"]["new"], "CONTACTED");
  EXPECT_EQ(events[2].second["changes"]["notes"]["old"], "");
  EXPECT_EQ(events[2].second["changes"]["notes"]["new"], "called, call back Tuesday");
  EXPECT_EQ(events[3].first, "lead.status_changed");
  EXPECT_EQ(events[3].second["assigned_to"], agent.id);
  // A change that would duplicate another lead is refused, naming no lead.
  lv1::Lead other;
  ASSERT_TRUE(
      Create(admin_, NewLead("Other", "other@example.com", "+1 212 555 0100"), &other).ok());
  for (const char* path : {"email", "phone"}) {
    lv1::UpdateLeadRequest dup;
    dup.mutable_lead()->set_id(lead.id());
    dup.mutable_lead()->set_email("OTHER@example.com");
    dup.mutable_lead()->set_phone("(212) 555-0100");
    dup.mutable_update_mask()->add_paths(path);
    grpc::Status refused = stub_->UpdateLead(Context(agent.token).get(), dup, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::ALREADY_EXISTS) << path;
    EXPECT_FALSE(DetailOf<google::rpc::ResourceInfo>(refused).has_value());
    EXPECT_EQ(refused.error_message().find(std::to_string(other.id())), std::string::npos);
  }
  // Masks that name what may not change through UpdateLead.
  for (const char* path : {"assigned_to", "version", "bogus"}) {
    lv1::UpdateLeadRequest bad;
    bad.mutable_lead()->set_id(lead.id());
    bad.mutable_update_mask()->add_paths(path);
    EXPECT_EQ(stub_->UpdateLead(Context(admin_.token).get(), bad, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << path;
  }
}

TEST_F(LeadServiceTest, AccessMatrixForEveryMethod) {
  const User a = CreateUser("ana", av1::ROLE_AGENT);
  const User b = CreateUser("ben", av1::ROLE_AGENT);
  const User client = CreateUser("carl", av1::ROLE_CLIENT);
  const User service = Login("zillow@service.crm.local", kZillowSecret);
  lv1::Lead mine, pooled;
  ASSERT_TRUE(Create(a, NewLead("Mine", "mine@example.com"), &mine).ok());
  ASSERT_TRUE(Create(admin_, NewLead("Pooled", "pooled@example.com"), &pooled).ok());

  // CLIENT: nothing at all.
  EXPECT_EQ(Get(client, mine.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Create(client, NewLead("X", "x@example.com")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Capture(client, CaptureOf("X", "x@example.com")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // SERVICE reads and captures, but does not create by hand; agents do not capture.
  EXPECT_EQ(Create(service, NewLead("X", "x@example.com")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Capture(a, CaptureOf("X", "x@example.com")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Capture(service, CaptureOf("X", "x@example.com")).ok());
  lv1::ListLeadsResponse all;
  EXPECT_TRUE(stub_->ListLeads(Context(service.token).get(), lv1::ListLeadsRequest(), &all).ok());
  EXPECT_EQ(all.leads_size(), 3);
  lv1::ListLeadsRequest list;
  lv1::ListLeadsResponse listed;
  EXPECT_EQ(stub_->ListLeads(Context(client.token).get(), list, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Another agent's lead does not exist for B; the pool does.
  lv1::Lead seen;
  EXPECT_EQ(Get(b, mine.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(b, mine.id() + 1000).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get(b, pooled.id()).ok());
  EXPECT_TRUE(Get(a, mine.id()).ok());
  EXPECT_TRUE(Get(service, mine.id()).ok());
  lv1::UpdateLeadRequest update;
  update.mutable_lead()->set_id(mine.id());
  update.mutable_lead()->set_notes("x");
  update.mutable_update_mask()->add_paths("notes");
  lv1::UpdateLeadResponse updated;
  EXPECT_EQ(stub_->UpdateLead(Context(b.token).get(), update, &updated).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(stub_->UpdateLead(Context(service.token).get(), update, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(stub_->UpdateLead(Context(a.token).get(), update, &updated).ok());
  update.mutable_lead()->set_id(pooled.id());
  EXPECT_EQ(stub_->UpdateLead(Context(b.token).get(), update, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED)
      << "claim before working a pooled lead";
  // Claims: B cannot take A's lead (held), SERVICE and ADMIN do not claim.
  lv1::ClaimLeadRequest claim;
  claim.set_lead_id(mine.id());
  lv1::ClaimLeadResponse claimed;
  EXPECT_EQ(stub_->ClaimLead(Context(b.token).get(), claim, &claimed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(stub_->ClaimLead(Context(admin_.token).get(), claim, &claimed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Assign and Delete: ADMIN only.
  lv1::AssignLeadRequest assign;
  assign.set_lead_id(pooled.id());
  assign.set_agent_id(b.id);
  lv1::AssignLeadResponse assigned;
  for (const User* caller : {&a, &service, &client}) {
    EXPECT_EQ(stub_->AssignLead(Context(caller->token).get(), assign, &assigned).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  assign.set_agent_id(client.id);
  EXPECT_EQ(stub_->AssignLead(Context(admin_.token).get(), assign, &assigned).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  assign.set_agent_id(b.id);
  ASSERT_TRUE(stub_->AssignLead(Context(admin_.token).get(), assign, &assigned).ok());
  EXPECT_EQ(assigned.lead().assigned_to(), b.id);
  EXPECT_EQ(assigned.lead().routing().rule(), "manual");
  EXPECT_EQ(Get(a, pooled.id()).error_code(), grpc::StatusCode::NOT_FOUND) << "now B's";
  lv1::DeleteLeadRequest del;
  del.set_id(mine.id());
  lv1::DeleteLeadResponse deleted;
  for (const User* caller : {&a, &service, &client}) {
    EXPECT_EQ(stub_->DeleteLead(Context(caller->token).get(), del, &deleted).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  del.set_request_id("del-1");
  ASSERT_TRUE(stub_->DeleteLead(Context(admin_.token).get(), del, &deleted).ok());
  lv1::DeleteLeadResponse retried;
  ASSERT_TRUE(stub_->DeleteLead(Context(admin_.token).get(), del, &retried).ok());
  EXPECT_EQ(retried.delete_time().seconds(), deleted.delete_time().seconds());
  del.set_request_id("");
  EXPECT_EQ(stub_->DeleteLead(Context(admin_.token).get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(admin_, mine.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Actions(mine.id()).back(), "lead.deleted");

  // Lists: an agent sees its own, or the pool; never another's.
  ASSERT_TRUE(stub_->ListLeads(Context(b.token).get(), list, &listed).ok());
  ASSERT_EQ(listed.leads_size(), 1);
  EXPECT_EQ(listed.leads(0).id(), pooled.id());
  list.set_assigned_to(a.id);
  EXPECT_EQ(stub_->ListLeads(Context(b.token).get(), list, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(LeadServiceTest, PagesReturnEveryLeadOnceWhileLeadsArrive) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  std::set<int64_t> created;
  for (int i = 0; i < 25; ++i) {
    lv1::Lead lead;
    ASSERT_TRUE(
        Create(agent, NewLead(absl::StrCat("L", i), absl::StrCat("l", i, "@example.com")), &lead)
            .ok());
    created.insert(lead.id());
  }
  lv1::ListLeadsRequest request;
  request.set_page_size(4);
  std::vector<int64_t> seen;
  int extra = 0;
  do {
    lv1::ListLeadsResponse response;
    ASSERT_TRUE(stub_->ListLeads(Context(agent.token).get(), request, &response).ok());
    for (const lv1::Lead& lead : response.leads()) {
      seen.push_back(lead.id());
    }
    // A newer lead arriving meanwhile sorts before the pages still to come.
    ASSERT_TRUE(Create(agent, NewLead("New", absl::StrCat("new", extra++, "@example.com"))).ok());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()), created);
  EXPECT_EQ(seen.size(), created.size());
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
  // The same through a filter that is not a prepared page (free text).
  lv1::ListLeadsRequest by_text;
  by_text.set_page_size(4);
  by_text.set_query("example.com");
  std::set<int64_t> by_text_seen;
  int pages = 0;
  do {
    lv1::ListLeadsResponse response;
    ASSERT_TRUE(stub_->ListLeads(Context(agent.token).get(), by_text, &response).ok());
    for (const lv1::Lead& lead : response.leads()) {
      EXPECT_TRUE(by_text_seen.insert(lead.id()).second) << "twice: " << lead.id();
    }
    by_text.set_page_token(response.next_page_token());
    ++pages;
  } while (!by_text.page_token().empty());
  EXPECT_EQ(by_text_seen.size(), created.size() + extra);
  EXPECT_EQ(pages, static_cast<int>((by_text_seen.size() + 3) / 4));
  // A token is bound to its filters.
  lv1::ListLeadsRequest first_page;
  first_page.set_page_size(2);
  lv1::ListLeadsResponse page;
  ASSERT_TRUE(stub_->ListLeads(Context(agent.token).get(), first_page, &page).ok());
  first_page.set_page_token(page.next_page_token());
  first_page.set_source("zillow");
  EXPECT_EQ(stub_->ListLeads(Context(agent.token).get(), first_page, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Without pipelined reads (--db_read_connections=0) GetLead and ListLeads run
// on the executor and the pool, and answer alike.
TEST_F(LeadServiceTest, ReadsAnswerAlikeWithoutThePipelinedReader) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  const User other = CreateUser("ben", av1::ROLE_AGENT);
  lv1::Lead mine;
  ASSERT_TRUE(Create(agent, NewLead("Mine", "mine@example.com"), &mine).ok());
  ASSERT_TRUE(Create(admin_, NewLead("Pondy", "pondy@example.com")).ok());
  for (const bool pipelined : {true, false}) {
    if (!pipelined) {
      StartService({"--db_read_connections=0"});
    }
    lv1::Lead seen;
    ASSERT_TRUE(Get(agent, mine.id(), &seen).ok()) << pipelined;
    EXPECT_EQ(seen.name(), "Mine");
    EXPECT_EQ(Get(other, mine.id()).error_code(), grpc::StatusCode::NOT_FOUND);
    lv1::ListLeadsRequest list;
    lv1::ListLeadsResponse listed;
    ASSERT_TRUE(stub_->ListLeads(Context(agent.token).get(), list, &listed).ok());
    ASSERT_EQ(listed.leads_size(), 1);
    EXPECT_EQ(listed.leads(0).id(), mine.id());
    list.set_query("mine@");
    ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), list, &listed).ok());
    EXPECT_EQ(listed.leads_size(), 1);
    lv1::ListLeadsRequest pond;
    pond.set_unassigned_only(true);
    ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), pond, &listed).ok());
    ASSERT_EQ(listed.leads_size(), 1) << pipelined;
    EXPECT_EQ(listed.leads(0).name(), "Pondy");
    // Pages of one, newest first (the page's size is in the statement's text).
    lv1::ListLeadsRequest paged;
    paged.set_page_size(1);
    ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), paged, &listed).ok());
    ASSERT_EQ(listed.leads_size(), 1) << pipelined;
    EXPECT_EQ(listed.leads(0).name(), "Pondy");
    paged.set_page_token(listed.next_page_token());
    ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), paged, &listed).ok());
    ASSERT_EQ(listed.leads_size(), 1) << pipelined;
    EXPECT_EQ(listed.leads(0).name(), "Mine");
    EXPECT_TRUE(listed.next_page_token().empty());
  }
}

// What the pipelined reader reads (GetLead, ListLeads' pages) is written from
// the rows straight into wire format (LeadRowEncoder); without the reader
// (--db_read_connections=0) the answers go through records and ToProto, the
// reference here. Every field must come out the same both ways, set or
// unset, for every kind of page and its tokens.
TEST_F(LeadServiceTest, ListedLeadsAreWhatGetAnswersFieldForField) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  lv1::CaptureLeadRequest capture =
      CaptureOf("Zoë Ångström", "zoe@example.com", "zillow", "Saw 12 Maple St ✓");
  capture.set_phone("(312) 555-0142 ext. 7");
  capture.set_contact_info("evenings «please»");
  capture.set_external_id("z-1");
  capture.set_property_mls_id("ML-1");
  ASSERT_TRUE(Capture(admin_, capture).ok());
  lv1::Lead manual = NewLead("Bo", "bo@example.com", "+44 20 7946 0958");
  manual.set_notes("called twice");
  ASSERT_TRUE(Create(admin_, manual).ok());
  ASSERT_TRUE(Create(agent, NewLead("Own", "own@example.com")).ok());

  std::vector<lv1::ListLeadsRequest> requests(3);
  requests[1].set_unassigned_only(true);
  *requests[2].mutable_create_time_start() = google::protobuf::util::TimeUtil::GetEpoch();
  std::map<int64_t, lv1::Lead> reference;  // GetLead's answers, through records
  for (const bool pipelined : {false, true}) {
    StartService(pipelined ? std::vector<std::string>{}
                           : std::vector<std::string>{"--db_read_connections=0"});
    for (size_t r = 0; r < requests.size(); ++r) {
      lv1::ListLeadsRequest request = requests[r];
      request.set_page_size(1);  // a token from the rows' keys on every page
      std::vector<lv1::Lead> listed;
      do {
        lv1::ListLeadsResponse page;
        ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), request, &page).ok());
        listed.insert(listed.end(), page.leads().begin(), page.leads().end());
        request.set_page_token(page.next_page_token());
      } while (!request.page_token().empty() && listed.size() < 10);
      ASSERT_EQ(listed.size(), r == 1 ? 1u : 3u) << pipelined << " request " << r;
      for (const lv1::Lead& lead : listed) {
        lv1::Lead got;
        ASSERT_TRUE(Get(admin_, lead.id(), &got).ok());
        if (!pipelined) {
          reference[lead.id()] = got;
        }
        for (const lv1::Lead* other : {&got, &reference[lead.id()]}) {
          EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(lead, *other))
              << (pipelined ? "pipelined" : "pool") << " request " << r
              << "\n listed: " << lead.ShortDebugString()
              << "\nanswered: " << other->ShortDebugString();
        }
        if (lead.source() == "zillow") {
          EXPECT_EQ(lead.routing().rule(), "round_robin");
          EXPECT_EQ(lead.routing().candidate_agent_ids_size(), 1);
          EXPECT_TRUE(lead.routing().has_decide_time());
          EXPECT_TRUE(lead.has_assign_time());
          EXPECT_EQ(lead.status(), lv1::LEAD_STATUS_NEW);
        } else if (lead.name() == "Own") {
          EXPECT_EQ(lead.routing().rule(), "creator");
          EXPECT_EQ(lead.routing().candidate_agent_ids_size(), 0);
        } else {
          EXPECT_FALSE(lead.has_routing()) << lead.ShortDebugString();
          EXPECT_FALSE(lead.has_assign_time());
        }
      }
    }
  }
}

// One agent's, one status's and one source's pages read their (column, id)
// index through a row comparison, the pond its own index: every match once,
// newest first, nothing else, page after page, with and without the
// pipelined reader.
TEST_F(LeadServiceTest, OneFilterPagesReturnEveryMatchOnceNewestFirst) {
  const User ana = CreateUser("ana", av1::ROLE_AGENT);
  const User ben = CreateUser("ben", av1::ROLE_AGENT);
  const std::vector<std::string> sources = {"zillow", "website", "referral"};
  std::vector<lv1::Lead> created;
  for (int i = 0; i < 14; ++i) {
    lv1::Lead lead = NewLead(absl::StrCat("L", i), absl::StrCat("f", i, "@example.com"));
    lead.set_source(sources[i % 3]);
    lead.set_status(i % 2 == 0 ? lv1::LEAD_STATUS_NEW : lv1::LEAD_STATUS_CONTACTED);
    if (i % 4 != 3) {
      lead.set_assigned_to(i % 4 == 0 ? ana.id : ben.id);
    }
    lv1::Lead out;
    ASSERT_TRUE(Create(admin_, lead, &out).ok()) << i;
    created.push_back(out);
  }
  struct Filter {
    std::string name;
    lv1::ListLeadsRequest request;
    std::function<bool(const lv1::Lead&)> matches;
  };
  std::vector<Filter> filters(7);
  filters[0] = {"ana", {}, [&](const lv1::Lead& l) { return l.assigned_to() == ana.id; }};
  filters[0].request.set_assigned_to(ana.id);
  filters[1] = {"ben", {}, [&](const lv1::Lead& l) { return l.assigned_to() == ben.id; }};
  filters[1].request.set_assigned_to(ben.id);
  filters[2] = {
      "contacted", {}, [](const lv1::Lead& l) { return l.status() == lv1::LEAD_STATUS_CONTACTED; }};
  filters[2].request.set_status(lv1::LEAD_STATUS_CONTACTED);
  filters[3] = {"website", {}, [](const lv1::Lead& l) { return l.source() == "website"; }};
  filters[3].request.set_source("website");
  filters[4] = {"referral", {}, [](const lv1::Lead& l) { return l.source() == "referral"; }};
  filters[4].request.set_source("referral");
  filters[5] = {"nobody's source", {}, [](const lv1::Lead&) { return false; }};
  filters[5].request.set_source("open_house");
  filters[6] = {"the pond", {}, [](const lv1::Lead& l) { return l.assigned_to() == 0; }};
  filters[6].request.set_unassigned_only(true);
  for (const bool pipelined : {true, false}) {
    if (!pipelined) {
      StartService({"--db_read_connections=0"});
    }
    for (const Filter& filter : filters) {
      std::vector<int64_t> expected;
      for (auto it = created.rbegin(); it != created.rend(); ++it) {
        if (filter.matches(*it)) {
          expected.push_back(it->id());
        }
      }
      lv1::ListLeadsRequest request = filter.request;
      request.set_page_size(2);
      std::vector<int64_t> seen;
      do {
        lv1::ListLeadsResponse page;
        ASSERT_TRUE(stub_->ListLeads(Context(admin_.token).get(), request, &page).ok());
        for (const lv1::Lead& lead : page.leads()) {
          seen.push_back(lead.id());
        }
        request.set_page_token(page.next_page_token());
      } while (!request.page_token().empty() && seen.size() <= created.size());
      EXPECT_EQ(seen, expected) << filter.name << (pipelined ? ", pipelined" : ", pool");
    }
  }
}

TEST_F(LeadServiceTest, ListFiltersCombine) {
  const User agent = CreateUser("ana", av1::ROLE_AGENT);
  ASSERT_TRUE(Capture(admin_, CaptureOf("Zed Zillow", "zed@example.com", "zillow")).ok());
  ASSERT_TRUE(Capture(admin_, CaptureOf("Wanda Web", "wanda@example.com", "website",
                                        "looking in Maplewood"))
                  .ok());
  lv1::Lead contacted;
  ASSERT_TRUE(Create(admin_, NewLead("Carl Contacted", "carl@example.com"), &contacted).ok());
  const auto ids = [&](lv1::ListLeadsRequest request) {
    lv1::ListLeadsResponse response;
    grpc::Status status = stub_->ListLeads(Context(admin_.token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> names;
    for (const lv1::Lead& lead : response.leads()) {
      names.push_back(lead.name());
    }
    return names;
  };
  lv1::ListLeadsRequest by_source;
  by_source.set_source("zillow");
  EXPECT_THAT(ids(by_source), ::testing::ElementsAre("Zed Zillow"));
  lv1::ListLeadsRequest by_text;
  by_text.set_query("MAPLE");
  EXPECT_THAT(ids(by_text), ::testing::ElementsAre("Wanda Web"));
  lv1::ListLeadsRequest by_agent;
  by_agent.set_assigned_to(agent.id);
  EXPECT_THAT(ids(by_agent), ::testing::ElementsAre("Wanda Web", "Zed Zillow"));
  lv1::ListLeadsRequest agent_and_source;
  agent_and_source.set_assigned_to(agent.id);
  agent_and_source.set_source("website");
  EXPECT_THAT(ids(agent_and_source), ::testing::ElementsAre("Wanda Web"));
  lv1::ListLeadsRequest text_page;
  text_page.set_query("example.com");
  text_page.set_page_size(1);
  EXPECT_THAT(ids(text_page), ::testing::ElementsAre("Carl Contacted"));
  lv1::ListLeadsRequest pond;
  pond.set_unassigned_only(true);
  EXPECT_THAT(ids(pond), ::testing::ElementsAre("Carl Contacted"));
  lv1::ListLeadsRequest future;
  future.mutable_create_time_start()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  EXPECT_THAT(ids(future), ::testing::IsEmpty());
  lv1::ListLeadsRequest short_query;
  short_query.set_query("ab");
  lv1::ListLeadsResponse response;
  EXPECT_EQ(stub_->ListLeads(Context(admin_.token).get(), short_query, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A created-time range pages by (create time, id), newest first: times that
// tie and times out of id order (an import's backdated leads) come out once
// each, in that order, and only inside the range.
TEST_F(LeadServiceTest, CreatedRangePagesByCreateTimeThenId) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 9; ++i) {
    lv1::Lead lead;
    ASSERT_TRUE(
        Create(admin_, NewLead(absl::StrCat("T", i), absl::StrCat("t", i, "@example.com")), &lead)
            .ok());
    ids.push_back(lead.id());
  }
  // Lead i is created on day (i % 4) of 2025: days repeat, and do not rise with id.
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(cluster_
                    ->Exec(absl::StrCat("UPDATE leads SET created_at = '2025-03-0", 1 + i % 4,
                                        " 12:00:00.000001+00' WHERE id = ", ids[i]),
                           db_name_)
                    .ok());
  }
  lv1::ListLeadsRequest request;
  request.set_page_size(2);
  // Days 1..3: every lead but those of day 4 (i % 4 == 3).
  request.mutable_create_time_start()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2025, 3, 1, 0, 0, 0), absl::UTCTimeZone())));
  request.mutable_create_time_end()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2025, 3, 4, 0, 0, 0), absl::UTCTimeZone())));
  std::vector<std::pair<int64_t, int64_t>> seen;  // (created micros, id)
  std::string first_token;
  do {
    lv1::ListLeadsResponse response;
    grpc::Status status = stub_->ListLeads(Context(admin_.token).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const lv1::Lead& lead : response.leads()) {
      seen.emplace_back(lead.create_time().seconds() * 1000000 + lead.create_time().nanos() / 1000,
                        lead.id());
    }
    if (first_token.empty()) {
      first_token = response.next_page_token();
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  std::vector<std::pair<int64_t, int64_t>> expected;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 4 != 3) {
      expected.emplace_back(
          absl::ToUnixMicros(absl::FromCivil(absl::CivilSecond(2025, 3, 1 + i % 4, 12, 0, 0),
                                             absl::UTCTimeZone())) +
              1,
          ids[i]);
    }
  }
  std::sort(expected.rbegin(), expected.rend());
  EXPECT_EQ(seen, expected);
  // Its tokens are its own: the plain list refuses one.
  lv1::ListLeadsRequest plain;
  plain.set_page_token(first_token);
  lv1::ListLeadsResponse response;
  EXPECT_EQ(stub_->ListLeads(Context(admin_.token).get(), plain, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace crm::leads
