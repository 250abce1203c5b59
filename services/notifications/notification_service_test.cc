// The notifications service through its real binary, with the real auth,
// audit and leads binaries producing the activity feed it follows, each on
// its own database of one throwaway cluster: the rules end to end, the
// consumer's durable cursor under SIGKILL and under an audit restart, live
// streams (resume, heartbeats, caps, 2 000 watchers), read marks and the
// role rules of every method.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/testing/pg_fixture.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_auth.h"
#include "common/testing/test_calls.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace crm::notifications {
namespace {

using ::crm::testing::CallContext;
using ::crm::testing::ServiceProcess;
using ::crm::testing::TestUser;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
namespace nv1 = ::crm::notifications::v1;
namespace lv1 = ::crm::leads::v1;
namespace av1 = ::crm::auth::v1;

// One WatchNotifications stream on gRPC's callback API (no thread each),
// collecting what arrives.
class Watch final : public grpc::ClientReadReactor<nv1::WatchNotificationsResponse> {
 public:
  Watch(nv1::NotificationService::Stub* stub, const std::string& token, int64_t after_id)
      : context_(CallContext(token, absl::Hours(1))) {
    request_.set_after_id(after_id);
    stub->async()->WatchNotifications(context_.get(), &request_, this);
    StartRead(&response_);
    StartCall();
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  ~Watch() {
    context_->TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  void OnReadInitialMetadataDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    live_ = ok;
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (response_.has_notification()) {
        received_.push_back(response_.notification());
      } else if (response_.has_heartbeat_time()) {
        ++heartbeats_;
      }
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  // The stream is live (its headers came) or ended.
  bool WaitLive(absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_ || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return live_ && !done_;
  }
  bool WaitCount(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto ready = [this, n]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= n || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return received_.size() >= n;
  }
  bool WaitHeartbeat(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return heartbeats_ > 0 || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return heartbeats_ > 0;
  }
  grpc::Status WaitDone(absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    return done_ ? status_ : grpc::Status(grpc::StatusCode::UNKNOWN, "still open");
  }
  std::vector<nv1::Notification> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  std::vector<int64_t> ids() {
    std::vector<int64_t> out;
    for (const nv1::Notification& n : received()) {
      out.push_back(n.id());
    }
    return out;
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  nv1::WatchNotificationsRequest request_;
  nv1::WatchNotificationsResponse response_;
  absl::Mutex mu_;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::vector<nv1::Notification> received_ ABSL_GUARDED_BY(mu_);
};

// Per test: auth (relaying its events), audit on a port fixed for the test
// (so it can restart where it was), leads, and notifications following the
// feed, on the PgTest cluster.
class NotificationServiceTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    for (const char* name : {"auth", "audit", "leads"}) {
      auto dsn = cluster_->CreateServiceDatabase(absl::StrCat(db_name_, "_", name));
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      dsns_[name] = *dsn;
    }
    dir_ = absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-notifications-test-",
                        getpid(), "-", db_name_);
    audit_port_ = crm::testing::FreePort();
    auto auth = crm::testing::TestAuth::Start(dsns_["auth"], dir_,
                                              {{"auth", "auth-account-secret"},
                                               {"leads", "leads-account-secret"},
                                               {"notifications", "notifications-account-secret"}},
                                              AuthArgs());
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    admin_ = auth_->admin();
    StartAudit();
    auto leads = ServiceProcess::Start(
        "leads", {"--dsn=" + dsns_["leads"], AuthFlag(),
                  "--service_account_secret_file=" + auth_->ServiceSecretFile("leads"), AuditFlag(),
                  "--directory_cache_seconds=1"});
    ASSERT_TRUE(leads.ok()) << leads.status();
    leads_ = *std::move(leads);
    leads_stub_ = lv1::LeadService::NewStub(leads_->channel());
    users_stub_ = av1::UserService::NewStub(auth_->process().channel());
    StartNotifications();
  }

  void TearDown() override {
    if (HasFailure()) {  // what the services said, for the failure's story
      for (auto* process : {&auth_->process(), audit_.get(), leads_.get(), notifications_.get()}) {
        if (process != nullptr) {
          std::string log = process->Log();
          std::cerr << "---- log of port " << process->port() << " (its end)\n"
                    << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
        }
      }
    }
    notifications_.reset();
    leads_.reset();
    audit_.reset();
    auth_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> AuthArgs() {
    std::vector<std::string> args = {
        "--service_account_secret_file=" + dir_ + "/accounts/auth.secret", AuditFlag()};
    args.insert(args.end(), auth_extra_.begin(), auth_extra_.end());
    return args;
  }
  std::string AuthFlag() { return "--auth_address=" + auth_->process().address(); }
  std::string AuditFlag() { return absl::StrCat("--audit_address=127.0.0.1:", audit_port_); }

  void StartAudit() {
    auto audit =
        ServiceProcess::StartOnPort(audit_port_, "audit", {"--dsn=" + dsns_["audit"], AuthFlag()});
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = *std::move(audit);
  }

  void StartNotifications(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--dsn=" + dsn_,
        AuthFlag(),
        AuditFlag(),
        "--service_account_secret_file=" + auth_->ServiceSecretFile("notifications"),
        "--directory_cache_seconds=1",
        "--watch_heartbeat_seconds=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto started = port_ == 0 ? ServiceProcess::Start("notifications", args)
                              : ServiceProcess::StartOnPort(port_, "notifications", args);
    ASSERT_TRUE(started.ok()) << started.status();
    notifications_ = *std::move(started);
    port_ = notifications_->port();
    stub_ = nv1::NotificationService::NewStub(notifications_->channel());
  }

  TestUser User(const std::string& name, av1::Role role) {
    absl::StatusOr<TestUser> user = auth_->CreateUser(name, role);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : TestUser{};
  }

  lv1::Lead CreateLead(const TestUser& caller, const std::string& name, int64_t assigned_to) {
    lv1::CreateLeadRequest request;
    request.mutable_lead()->set_name(name);
    request.mutable_lead()->set_email(absl::StrCat(name, "@example.com"));
    request.mutable_lead()->set_source("website");
    request.mutable_lead()->set_assigned_to(assigned_to);
    lv1::CreateLeadResponse response;
    const grpc::Status status =
        leads_stub_->CreateLead(CallContext(caller.token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lead();
  }

  grpc::Status List(const TestUser& caller, nv1::ListNotificationsResponse* response,
                    bool unread_only = false, int64_t recipient = 0, int page_size = 0,
                    const std::string& token = "") {
    nv1::ListNotificationsRequest request;
    request.set_unread_only(unread_only);
    request.set_recipient_id(recipient);
    request.set_page_size(page_size);
    request.set_page_token(token);
    return stub_->ListNotifications(CallContext(caller.token).get(), request, response);
  }

  // Every notification of `user`, newest first, through every page.
  std::vector<nv1::Notification> All(const TestUser& user) {
    std::vector<nv1::Notification> all;
    std::string token;
    do {
      nv1::ListNotificationsResponse page;
      const grpc::Status status = List(user, &page, false, 0, 7, token);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) {
        break;
      }
      all.insert(all.end(), page.notifications().begin(), page.notifications().end());
      token = page.next_page_token();
    } while (!token.empty());
    return all;
  }

  std::vector<std::string> Kinds(const TestUser& user) {
    std::vector<std::string> kinds;
    for (const nv1::Notification& n : All(user)) {
      kinds.push_back(n.kind());
    }
    std::reverse(kinds.begin(), kinds.end());  // oldest first
    return kinds;
  }

  // Waits until `user` has at least `n` notifications.
  bool WaitForCount(const TestUser& user, size_t n, absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (All(user).size() >= n) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Waits until every event auth and leads wrote has reached audit, and the
  // consumer has handled everything audit holds.
  void WaitForFeedCaughtUp() {
    pqxx::connection auth(dsns_["auth"]);
    pqxx::connection leads(dsns_["leads"]);
    pqxx::connection audit(dsns_["audit"]);
    pqxx::connection notifications(dsn_);
    auto one = [](pqxx::connection& conn, const char* sql) {
      pqxx::nontransaction tx(conn);
      pqxx::result rows = tx.exec(sql);
      return rows.empty() ? int64_t{0} : rows[0][0].as<int64_t>();
    };
    constexpr char kUndelivered[] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL";
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int64_t waiting = 0, head = 0, cursor = 0;
    while (absl::Now() < deadline) {
      waiting = one(auth, kUndelivered) + one(leads, kUndelivered);
      head = one(audit, "SELECT COALESCE(max(id), 0) FROM activities");
      cursor = one(notifications, "SELECT last_seq FROM feed_cursors WHERE feed = 'audit'");
      if (waiting == 0 && cursor >= head && head > 0) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "feed not caught up: " << waiting << " events in outboxes, cursor " << cursor
                  << ", head " << head;
  }

  grpc::Status CreateNotification(const TestUser& caller, int64_t recipient,
                                  const std::string& title, nv1::Notification* out = nullptr,
                                  const std::string& request_id = "") {
    nv1::CreateNotificationRequest request;
    request.set_recipient_id(recipient);
    request.set_kind("system.message");
    request.set_title(title);
    request.set_message("from the test");
    request.set_request_id(request_id);
    nv1::CreateNotificationResponse response;
    grpc::Status status =
        stub_->CreateNotification(CallContext(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.notification();
    }
    return status;
  }

  std::vector<std::string> auth_extra_;  // more flags for crm-auth
  std::map<std::string, std::string> dsns_;
  std::string dir_;
  int audit_port_ = 0;
  int port_ = 0;
  std::unique_ptr<crm::testing::TestAuth> auth_;
  std::unique_ptr<ServiceProcess> audit_;
  std::unique_ptr<ServiceProcess> leads_;
  std::unique_ptr<ServiceProcess> notifications_;
  std::unique_ptr<lv1::LeadService::Stub> leads_stub_;
  std::unique_ptr<av1::UserService::Stub> users_stub_;
  std::unique_ptr<nv1::NotificationService::Stub> stub_;
  TestUser admin_;
};

TEST_F(NotificationServiceTest, EachRuleTellsTheRightPeopleAndNobodyElse) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  const TestUser ben = User("ben", av1::ROLE_AGENT);
  const TestUser cleo = User("cleo", av1::ROLE_CLIENT);
  const TestUser second_admin = User("second-admin", av1::ROLE_ADMIN);

  // An admin assigns a lead to ana; ana makes her own (no notification of her own act).
  const lv1::Lead assigned = CreateLead(admin_, "jane", ana.id);
  CreateLead(ana, "own-lead", 0);
  // An unassigned lead: every active admin but its creator.
  CreateLead(admin_, "pond-lead", 0);
  // ana's lead's status changed by the admin (told), then by ana (not told).
  lv1::UpdateLeadRequest update;
  update.mutable_lead()->set_id(assigned.id());
  update.mutable_lead()->set_status(lv1::LEAD_STATUS_CONTACTED);
  update.mutable_update_mask()->add_paths("status");
  lv1::UpdateLeadResponse updated;
  ASSERT_TRUE(leads_stub_->UpdateLead(CallContext(admin_.token).get(), update, &updated).ok());
  update.mutable_lead()->set_status(lv1::LEAD_STATUS_NURTURING);
  ASSERT_TRUE(leads_stub_->UpdateLead(CallContext(ana.token).get(), update, &updated).ok());
  // cleo becomes an agent.
  av1::UpdateUserRequest promote;
  promote.mutable_user()->set_id(cleo.id);
  promote.mutable_user()->set_role(av1::ROLE_AGENT);
  promote.mutable_update_mask()->add_paths("role");
  av1::UpdateUserResponse promoted;
  ASSERT_TRUE(users_stub_->UpdateUser(CallContext(admin_.token).get(), promote, &promoted).ok());

  WaitForFeedCaughtUp();
  // auth's events and leads' reach audit on their own relays: no order between them.
  EXPECT_THAT(Kinds(ana),
              UnorderedElementsAre("user.welcome", "lead.assigned", "lead.status_changed"));
  EXPECT_THAT(Kinds(ben), ElementsAre("user.welcome"));
  EXPECT_THAT(Kinds(cleo), ElementsAre("user.welcome", "user.role_changed"));
  EXPECT_THAT(Kinds(second_admin), UnorderedElementsAre("user.welcome", "lead.unassigned_new"));
  EXPECT_THAT(Kinds(admin_), ElementsAre("user.welcome"));  // the bootstrap admin's own

  std::map<std::string, nv1::Notification> anas;
  for (const nv1::Notification& n : All(ana)) {
    anas[n.kind()] = n;
  }
  const nv1::Notification& lead = anas["lead.assigned"];
  EXPECT_EQ(lead.title(), "New lead: jane from website");
  EXPECT_EQ(lead.entity_type(), "lead");
  EXPECT_EQ(lead.entity_id(), assigned.id());
  EXPECT_FALSE(lead.source_event_id().empty());
  EXPECT_FALSE(lead.has_read_time());
  EXPECT_EQ(anas["lead.status_changed"].title(), "jane: status New \u2192 Contacted");
  EXPECT_EQ(anas["user.welcome"].title(), "Welcome to the CRM, ana");
}

TEST_F(NotificationServiceTest, ACapturedLeadReachesItsAgentLiveAndReadMarksLowerTheCount) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  WaitForFeedCaughtUp();  // ana's welcome
  Watch watch(stub_.get(), ana.token, 0);
  ASSERT_TRUE(watch.WaitLive());

  lv1::CaptureLeadRequest capture;
  capture.set_name("Jane Doe");
  capture.set_email("jane.doe@example.com");
  capture.set_source("zillow");
  capture.set_external_id("zl-1");
  capture.set_message("Is 12 Maple St still available?");
  lv1::CaptureLeadResponse captured;
  const absl::Time sent = absl::Now();
  ASSERT_TRUE(leads_stub_->CaptureLead(CallContext(admin_.token).get(), capture, &captured).ok());
  ASSERT_EQ(captured.lead().assigned_to(), ana.id);  // the only active agent
  ASSERT_TRUE(watch.WaitCount(1, absl::Seconds(5)));
  const absl::Duration took = absl::Now() - sent;
  EXPECT_LT(took, absl::Seconds(1));
  const nv1::Notification pushed = watch.received()[0];
  EXPECT_EQ(pushed.title(), "New lead: Jane Doe from zillow");
  EXPECT_EQ(pushed.message(), "Is 12 Maple St still available?");
  EXPECT_EQ(pushed.entity_id(), captured.lead().id());

  nv1::ListNotificationsResponse unread;
  ASSERT_TRUE(List(ana, &unread, true).ok());
  ASSERT_EQ(unread.unread_count(), 2);  // the welcome and the lead
  ASSERT_EQ(unread.notifications_size(), 2);
  EXPECT_EQ(unread.notifications(0).id(), pushed.id());

  nv1::MarkNotificationsReadRequest mark;
  mark.add_ids(pushed.id());
  nv1::MarkNotificationsReadResponse marked;
  ASSERT_TRUE(stub_->MarkNotificationsRead(CallContext(ana.token).get(), mark, &marked).ok());
  EXPECT_EQ(marked.marked_count(), 1);
  EXPECT_EQ(marked.unread_count(), 1);
  nv1::ListNotificationsResponse after;
  ASSERT_TRUE(List(ana, &after).ok());
  EXPECT_EQ(after.unread_count(), 1);
  EXPECT_TRUE(after.notifications(0).has_read_time());
}

TEST_F(NotificationServiceTest, ConsumerKilledMidFeedCreatesEachNotificationOnce) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  notifications_->Stop(SIGKILL);
  constexpr int kLeads = 150;
  std::set<int64_t> lead_ids;
  for (int i = 0; i < kLeads; ++i) {
    lead_ids.insert(CreateLead(admin_, absl::StrCat("lead-", i), ana.id).id());
  }
  absl::SleepFor(absl::Seconds(1));  // the leads' events reach audit
  for (int kill = 0; kill < 3; ++kill) {
    StartNotifications();
    absl::SleepFor(absl::Milliseconds(20 + 40 * kill));
    notifications_->Stop(SIGKILL);
  }
  StartNotifications();
  WaitForFeedCaughtUp();

  std::set<int64_t> notified;
  std::set<std::string> events;
  int assigned = 0;
  for (const nv1::Notification& n : All(ana)) {
    if (n.kind() == "lead.assigned") {
      ++assigned;
      notified.insert(n.entity_id());
      events.insert(n.source_event_id());
    }
  }
  EXPECT_EQ(assigned, kLeads);
  EXPECT_EQ(notified, lead_ids);
  EXPECT_EQ(events.size(), static_cast<size_t>(kLeads));
}

TEST_F(NotificationServiceTest, AuditRestartedUnderTheConsumerMissesNothing) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  WaitForFeedCaughtUp();
  Watch watch(stub_.get(), ana.token, 0);
  ASSERT_TRUE(watch.WaitLive());
  ASSERT_EQ(audit_->Stop(SIGTERM), 0);
  for (int i = 0; i < 10; ++i) {
    CreateLead(admin_, absl::StrCat("while-down-", i), ana.id);  // waits in leads' outbox
  }
  StartAudit();
  for (int i = 0; i < 10; ++i) {
    CreateLead(admin_, absl::StrCat("after-", i), ana.id);
  }
  ASSERT_TRUE(watch.WaitCount(20, absl::Seconds(30)));
  WaitForFeedCaughtUp();
  EXPECT_EQ(All(ana).size(), 21u);  // the welcome and twenty leads
  std::vector<int64_t> ids = watch.ids();
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size());
}

TEST_F(NotificationServiceTest, AReconnectingWatcherGetsExactlyWhatItMissedThenLiveOnes) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  WaitForFeedCaughtUp();
  std::vector<int64_t> first_ids;
  {
    Watch watch(stub_.get(), ana.token, 0);
    ASSERT_TRUE(watch.WaitLive());
    nv1::Notification created;
    ASSERT_TRUE(CreateNotification(admin_, ana.id, "one", &created).ok());
    ASSERT_TRUE(watch.WaitCount(1, absl::Seconds(1)));
    EXPECT_EQ(watch.received()[0].title(), "one");
    first_ids = watch.ids();
    // Quiet for a while: keep-alives come (1 s here, 15 s by default).
    EXPECT_TRUE(watch.WaitHeartbeat(absl::Seconds(5)));
  }
  std::vector<int64_t> missed;
  for (int i = 0; i < 3; ++i) {
    nv1::Notification created;
    ASSERT_TRUE(CreateNotification(admin_, ana.id, absl::StrCat("missed ", i), &created).ok());
    missed.push_back(created.id());
  }
  // Another user's notification is nobody's business here.
  const TestUser ben = User("ben", av1::ROLE_AGENT);
  ASSERT_TRUE(CreateNotification(admin_, ben.id, "for ben").ok());

  Watch resumed(stub_.get(), ana.token, first_ids.back());
  ASSERT_TRUE(resumed.WaitCount(3));
  ASSERT_TRUE(resumed.WaitLive());
  nv1::Notification live;
  ASSERT_TRUE(CreateNotification(admin_, ana.id, "live", &live).ok());
  ASSERT_TRUE(resumed.WaitCount(4));
  absl::SleepFor(absl::Milliseconds(300));
  std::vector<int64_t> expected = missed;
  expected.push_back(live.id());
  EXPECT_EQ(resumed.ids(), expected);

  // A replay longer than one page of the service's reads comes whole, in order.
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(CreateNotification(admin_, ana.id, absl::StrCat("bulk ", i)).ok());
  }
  Watch replay(stub_.get(), ana.token, first_ids.back());
  ASSERT_TRUE(replay.WaitCount(254));
  const std::vector<int64_t> replayed = replay.ids();
  EXPECT_TRUE(std::is_sorted(replayed.begin(), replayed.end()));
  EXPECT_EQ(std::set<int64_t>(replayed.begin(), replayed.end()).size(), 254u);
}

TEST_F(NotificationServiceTest, TwoThousandWatchersEachGetOnlyTheirOwn) {
  notifications_.reset();
  StartNotifications({"--max_watch_streams_per_user=20"});
  constexpr int kUsers = 100;
  constexpr int kPerUser = 20;
  std::vector<TestUser> users;
  for (int i = 0; i < kUsers; ++i) {
    users.push_back(User(absl::StrCat("client-", i), av1::ROLE_CLIENT));
  }
  WaitForFeedCaughtUp();  // their welcomes, before anyone watches
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < kUsers * kPerUser; ++i) {
    watches.push_back(std::make_unique<Watch>(stub_.get(), users[i % kUsers].token, 0));
  }
  for (auto& watch : watches) {
    ASSERT_TRUE(watch->WaitLive(absl::Seconds(30)));
  }
  std::vector<int64_t> ids(kUsers);
  for (int i = 0; i < kUsers; ++i) {
    nv1::Notification created;
    ASSERT_TRUE(CreateNotification(admin_, users[i].id, absl::StrCat("for ", i), &created).ok());
    ids[i] = created.id();
  }
  for (int i = 0; i < kUsers * kPerUser; ++i) {
    ASSERT_TRUE(watches[i]->WaitCount(1, absl::Seconds(20))) << i;
  }
  absl::SleepFor(absl::Milliseconds(500));
  for (int i = 0; i < kUsers * kPerUser; ++i) {
    EXPECT_THAT(watches[i]->ids(), ElementsAre(ids[i % kUsers])) << i;
  }
}

TEST_F(NotificationServiceTest, StreamsAreCappedPerUserAndPerProcess) {
  notifications_.reset();
  StartNotifications({"--max_watch_streams_per_user=2", "--max_watch_streams=3"});
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  const TestUser ben = User("ben", av1::ROLE_AGENT);
  Watch a1(stub_.get(), ana.token, 0);
  Watch a2(stub_.get(), ana.token, 0);
  ASSERT_TRUE(a1.WaitLive());
  ASSERT_TRUE(a2.WaitLive());
  Watch a3(stub_.get(), ana.token, 0);
  grpc::Status refused = a3.WaitDone();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("2 notification streams"));
  Watch b1(stub_.get(), ben.token, 0);
  ASSERT_TRUE(b1.WaitLive());
  Watch b2(stub_.get(), ben.token, 0);
  EXPECT_EQ(b2.WaitDone().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Still served: the open ones get what is theirs.
  ASSERT_TRUE(CreateNotification(admin_, ben.id, "hello").ok());
  EXPECT_TRUE(b1.WaitCount(1));
}

TEST_F(NotificationServiceTest, AWatcherThatStopsReadingIsEndedWithWhereToResume) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  WaitForFeedCaughtUp();
  std::unique_ptr<grpc::ClientContext> context = CallContext(ana.token, absl::Minutes(3));
  auto reader = stub_->WatchNotifications(context.get(), nv1::WatchNotificationsRequest());
  reader->WaitForInitialMetadata();
  // 24 MB of notifications it does not read: more than the transport buffers
  // hold, so the service's backlog fills.
  std::string message;
  for (int i = 0; i < 4000; ++i) {
    message += "\U0001D11E";  // 4 bytes of UTF-8
  }
  for (int i = 0; i < 1500; ++i) {
    nv1::CreateNotificationRequest request;
    request.set_recipient_id(ana.id);
    request.set_kind("system.message");
    request.set_title(absl::StrCat("big ", i));
    request.set_message(message);
    nv1::CreateNotificationResponse response;
    ASSERT_TRUE(
        stub_->CreateNotification(CallContext(admin_.token).get(), request, &response).ok());
  }
  // What it was sent comes in order; then the end, naming the last one sent.
  nv1::WatchNotificationsResponse response;
  int64_t last = 0;
  int read = 0;
  while (reader->Read(&response)) {
    if (response.has_notification()) {
      EXPECT_GT(response.notification().id(), last);
      last = response.notification().id();
      ++read;
    }
  }
  const grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr(absl::StrCat("resume with after_id=", last)));
  EXPECT_LT(read, 1500);
  // Resuming there gets the rest.
  Watch resumed(stub_.get(), ana.token, last);
  EXPECT_TRUE(resumed.WaitCount(static_cast<size_t>(1500 - read), absl::Seconds(60)));
}

// Tokens of a few seconds, to see a stream end when its token does.
class ShortTokenTest : public NotificationServiceTest {
 protected:
  ShortTokenTest() { auth_extra_ = {"--access_token_ttl_seconds=3"}; }
};

TEST_F(ShortTokenTest, AStreamEndsUnauthenticatedWhenItsTokenExpires) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  Watch watch(stub_.get(), ana.token, 0);
  ASSERT_TRUE(watch.WaitLive());
  // 3 s of token and the 30 s of clock skew every verifier allows.
  const grpc::Status ended = watch.WaitDone(absl::Seconds(60));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("fresh token"));
}

TEST_F(NotificationServiceTest, ReadMarksCountOnlyTheCallersOwnAndPagesCoverEverything) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  const TestUser ben = User("ben", av1::ROLE_AGENT);
  WaitForFeedCaughtUp();
  std::vector<int64_t> anas;
  for (int i = 0; i < 12; ++i) {
    nv1::Notification created;
    ASSERT_TRUE(CreateNotification(admin_, ana.id, absl::StrCat("n", i), &created).ok());
    anas.push_back(created.id());
  }
  nv1::Notification bens;
  ASSERT_TRUE(CreateNotification(admin_, ben.id, "ben's", &bens).ok());

  // Pages of 7: every notification once, newest first (the welcome last).
  std::vector<nv1::Notification> all = All(ana);
  ASSERT_EQ(all.size(), 13u);
  EXPECT_EQ(all.front().id(), anas.back());
  EXPECT_EQ(all.back().kind(), "user.welcome");

  nv1::MarkNotificationsReadRequest mark;
  mark.add_ids(anas[0]);
  mark.add_ids(anas[1]);
  mark.add_ids(bens.id());  // not ana's: ignored, not counted
  mark.add_ids(987654321);  // no such notification
  mark.set_request_id("mark-1");
  nv1::MarkNotificationsReadResponse marked;
  ASSERT_TRUE(stub_->MarkNotificationsRead(CallContext(ana.token).get(), mark, &marked).ok());
  EXPECT_EQ(marked.marked_count(), 2);
  EXPECT_EQ(marked.unread_count(), 11);
  // A retry with the same request id answers the same.
  ASSERT_TRUE(stub_->MarkNotificationsRead(CallContext(ana.token).get(), mark, &marked).ok());
  EXPECT_EQ(marked.marked_count(), 2);
  nv1::ListNotificationsResponse ben_list;
  ASSERT_TRUE(List(ben, &ben_list, true).ok());
  EXPECT_EQ(ben_list.unread_count(), 2);  // the welcome and the message: untouched

  // Everything up to a time.
  nv1::MarkNotificationsReadRequest all_read;
  *all_read.mutable_up_to_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
  ASSERT_TRUE(stub_->MarkNotificationsRead(CallContext(ana.token).get(), all_read, &marked).ok());
  EXPECT_EQ(marked.marked_count(), 11);
  EXPECT_EQ(marked.unread_count(), 0);
  nv1::ListNotificationsResponse unread;
  ASSERT_TRUE(List(ana, &unread, true).ok());
  EXPECT_EQ(unread.notifications_size(), 0);
  EXPECT_EQ(unread.unread_count(), 0);

  // Neither both nor neither of ids and up_to_time.
  nv1::MarkNotificationsReadRequest neither;
  EXPECT_EQ(
      stub_->MarkNotificationsRead(CallContext(ana.token).get(), neither, &marked).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NotificationServiceTest, RoleRulesOfEveryMethod) {
  const TestUser ana = User("ana", av1::ROLE_AGENT);
  const TestUser cleo = User("cleo", av1::ROLE_CLIENT);
  absl::StatusOr<TestUser> service =
      auth_->Login("leads@service.crm.local", "leads-account-secret");
  ASSERT_TRUE(service.ok()) << service.status();
  WaitForFeedCaughtUp();
  nv1::ListNotificationsResponse list;
  // Own: everyone but SERVICE; another's: ADMIN only.
  EXPECT_TRUE(List(ana, &list).ok());
  EXPECT_TRUE(List(cleo, &list).ok());
  EXPECT_EQ(List(cleo, &list, false, ana.id).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(List(ana, &list, false, cleo.id).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(List(admin_, &list, false, ana.id).ok());
  EXPECT_EQ(list.notifications_size(), 1);
  EXPECT_EQ(List(ana, &list, false, -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List(ana, &list, false, 0, -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List(ana, &list, false, 0, 5, "garbage").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // CreateNotification: ADMIN and SERVICE.
  EXPECT_EQ(CreateNotification(ana, cleo.id, "hi").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateNotification(cleo, ana.id, "hi").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  nv1::Notification first;
  ASSERT_TRUE(CreateNotification(admin_, ana.id, "hi", &first, "req-1").ok());
  nv1::Notification again;
  ASSERT_TRUE(CreateNotification(admin_, ana.id, "hi", &again, "req-1").ok());
  EXPECT_EQ(again.id(), first.id());
  grpc::Status unknown = CreateNotification(admin_, 987654, "hi");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("recipient_id"));
  grpc::Status blank = CreateNotification(admin_, ana.id, "  ");
  EXPECT_EQ(blank.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(blank.error_message(), HasSubstr("title"));
  nv1::CreateNotificationRequest bad_kind;
  bad_kind.set_recipient_id(ana.id);
  bad_kind.set_kind("Not A Kind");
  bad_kind.set_title("x");
  nv1::CreateNotificationResponse created;
  grpc::Status kind_refused =
      stub_->CreateNotification(CallContext(admin_.token).get(), bad_kind, &created);
  EXPECT_EQ(kind_refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(kind_refused.error_message(), HasSubstr("kind"));

  // MarkNotificationsRead: ADMIN, AGENT, CLIENT.
  nv1::MarkNotificationsReadRequest mark;
  mark.add_ids(first.id());
  nv1::MarkNotificationsReadResponse marked;
  EXPECT_TRUE(stub_->MarkNotificationsRead(CallContext(cleo.token).get(), mark, &marked).ok());
  EXPECT_EQ(marked.marked_count(), 0);  // not cleo's

  // WatchNotifications: not SERVICE; no token at all is UNAUTHENTICATED.
  Watch anonymous(stub_.get(), "", 0);
  EXPECT_EQ(anonymous.WaitDone().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Watch negative(stub_.get(), ana.token, -5);
  EXPECT_EQ(negative.WaitDone().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Watch as_service(stub_.get(), service->token, 0);
  EXPECT_EQ(as_service.WaitDone().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  nv1::Notification from_service;
  EXPECT_TRUE(CreateNotification(*service, ana.id, "from a service", &from_service).ok());
  EXPECT_EQ(List(*service, &list).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace crm::notifications
