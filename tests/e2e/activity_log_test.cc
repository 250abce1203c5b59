// The activity log end to end: auth records user changes and sign-ins in its
// outbox, its relay streams them to the real audit binary as auth's service
// account, and nothing is lost or doubled when either process is killed. The
// same path works with mutual TLS on every port and every call.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth/ed25519_key.h"
#include "common/auth/service_credentials.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/outbox/relay.h"
#include "common/retention/janitor.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_calls.h"
#include "common/testing/test_pki.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;

constexpr char kAdminPassword[] = "e2e-admin-pass";

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  return crm::testing::CallContext(token, absl::Seconds(10));
}

void WriteFile(const std::string& path, const std::string& content) {
  absl::Status written = crm::testing::WriteTestFile(path, content);
  ASSERT_TRUE(written.ok()) << written;
}

class ActivityLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    for (const char* name : {"crm_auth", "crm_audit"}) {
      auto dsn = cluster_->CreateServiceDatabase(name);
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      dsns_[name] = *dsn;
    }
    dir_ = absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-activity-e2e-",
                        getpid());
    std::filesystem::create_directories(dir_ + "/accounts");
    WriteFile(dir_ + "/admin_password", kAdminPassword);
    WriteFile(dir_ + "/accounts/auth.secret", "auth-service-account-secret-1");
    auto key = auth::Ed25519PrivateKey::Generate();
    ASSERT_TRUE(key.ok());
    WriteFile(dir_ + "/signing.pem", key->ToPem());  // one key across auth restarts
    auth_port_ = crm::testing::FreePort();
    do {
      audit_port_ = crm::testing::FreePort();
    } while (audit_port_ == auth_port_);
  }

  void TearDown() override {
    audit_.reset();
    auth_.reset();
    std::filesystem::remove_all(dir_);
  }

  // From now on, services serve mutual TLS and present a certificate on
  // every call, as after `tools/crm up --tls`; the test's calls do too.
  void UseMutualTls() {
    auto pki = crm::testing::TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    credentials_ = Credentials("client");
  }

  // Channel credentials trusting the test CA, presenting `identity`'s certificate.
  std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& identity) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pki_->Read("ca.crt");
    ssl.pem_cert_chain = pki_->Read(identity + ".crt");
    ssl.pem_private_key = pki_->Read(identity + ".key");
    return grpc::SslCredentials(ssl);
  }

  std::vector<std::string> WithTlsFlags(std::vector<std::string> args) {
    if (pki_ != nullptr) {
      // One certificate per service, for its port and its calls, like tools/crm's.
      for (const std::string flag :
           {"--tls_cert_file=server.crt", "--tls_key_file=server.key",
            "--tls_client_ca_file=ca.crt", "--tls_ca_file=ca.crt",
            "--tls_client_cert_file=server.crt", "--tls_client_key_file=server.key"}) {
        const size_t eq = flag.find('=');
        args.push_back(flag.substr(0, eq + 1) + pki_->Path(flag.substr(eq + 1)));
      }
    }
    return args;
  }

  void StartAuth() {
    auto auth = ServiceProcess::StartOnPort(
        auth_port_, "auth",
        WithTlsFlags({"--dsn=" + dsns_["crm_auth"],
                      "--admin_password_file=" + dir_ + "/admin_password",
                      "--signing_key_files=" + dir_ + "/signing.pem",
                      "--service_accounts_dir=" + dir_ + "/accounts",
                      "--service_account_secret_file=" + dir_ + "/accounts/auth.secret",
                      absl::StrCat("--auth_address=127.0.0.1:", auth_port_),
                      absl::StrCat("--audit_address=127.0.0.1:", audit_port_)}),
        {}, absl::Seconds(30), credentials_);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::move(*auth);
    users_ = auth::v1::UserService::NewStub(auth_->channel());
  }

  void StartAudit() {
    auto audit = ServiceProcess::StartOnPort(
        audit_port_, "audit",
        WithTlsFlags(
            {"--dsn=" + dsns_["crm_audit"], absl::StrCat("--auth_address=127.0.0.1:", auth_port_)}),
        {}, absl::Seconds(30), credentials_);
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = std::move(*audit);
    audit_stub_ = audit::v1::AuditService::NewStub(audit_->channel());
  }

  std::string AdminToken() {
    absl::StatusOr<auth::v1::LoginResponse> session =
        crm::testing::SignIn(auth_->channel(), "admin@crm.local", kAdminPassword);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? session->access_token() : "";
  }

  // Creates an agent; returns its id (0 on failure).
  int64_t CreateUser(const std::string& token, int n) {
    auth::v1::CreateUserRequest request;
    request.mutable_user()->set_name(absl::StrCat("Agent ", n));
    request.mutable_user()->set_email(absl::StrCat("agent", n, "@crm.local"));
    request.mutable_user()->set_role(auth::v1::ROLE_AGENT);
    request.set_password("agent-password-1");
    auth::v1::CreateUserResponse response;
    grpc::Status status = users_->CreateUser(Context(token).get(), request, &response);
    return status.ok() ? response.user().id() : 0;
  }

  int64_t Query(const std::string& db, const std::string& sql) {
    pqxx::connection conn(cluster_->Dsn(db));
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  // Waits until auth's outbox has nothing undelivered.
  bool OutboxDrains(absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Query("crm_auth", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // Every outbox event is stored exactly once, and each entity's events are
  // in the same order in both.
  void ExpectExactlyOnceInOrder() {
    std::vector<std::pair<std::string, std::string>> outbox;  // (entity, event id) by id
    {
      pqxx::connection conn(cluster_->Dsn("crm_auth"));
      pqxx::nontransaction tx(conn);
      for (const auto& row : tx.exec(
               "SELECT entity_type || '/' || entity_id, event_id::text FROM outbox ORDER BY id")) {
        outbox.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
      }
    }
    std::vector<std::pair<std::string, std::string>> stored;  // by seq
    {
      pqxx::connection conn(cluster_->Dsn("crm_audit"));
      pqxx::nontransaction tx(conn);
      for (const auto& row : tx.exec("SELECT entity_type || '/' || entity_id, event_id::text "
                                     "FROM activities WHERE service = 'auth' ORDER BY id")) {
        stored.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
      }
    }
    ASSERT_EQ(stored.size(), outbox.size());
    std::map<std::string, std::vector<std::string>> outbox_by_entity, stored_by_entity;
    for (const auto& [entity, id] : outbox) {
      outbox_by_entity[entity].push_back(id);
    }
    for (const auto& [entity, id] : stored) {
      stored_by_entity[entity].push_back(id);
    }
    EXPECT_EQ(stored_by_entity, outbox_by_entity);

    audit::v1::VerifyActivitiesResponse verified;
    ASSERT_TRUE(audit_stub_->VerifyActivities(Context(AdminToken()).get(), {}, &verified).ok());
    EXPECT_TRUE(verified.ok()) << verified.reason() << " at " << verified.first_bad_seq();
  }

  std::unique_ptr<PgCluster> cluster_;
  std::unique_ptr<crm::testing::TestPki> pki_;             // set by UseMutualTls
  std::shared_ptr<grpc::ChannelCredentials> credentials_;  // null: plaintext
  std::map<std::string, std::string> dsns_;
  std::string dir_;
  int auth_port_ = 0;
  int audit_port_ = 0;
  std::unique_ptr<ServiceProcess> auth_;
  std::unique_ptr<ServiceProcess> audit_;
  std::unique_ptr<auth::v1::UserService::Stub> users_;
  std::unique_ptr<audit::v1::AuditService::Stub> audit_stub_;
};

TEST_F(ActivityLogTest, SignInAndUserCreationAppearInTheLogPromptly) {
  StartAuth();
  StartAudit();
  const std::string token = AdminToken();
  // Once the relay is streaming (at start-up it waits for auth to listen
  // before it can sign in), a change reaches audit in milliseconds.
  ASSERT_TRUE(OutboxDrains());
  const int64_t id = CreateUser(token, 1);
  ASSERT_NE(id, 0);
  const absl::Time created = absl::Now();

  audit::v1::ListActivitiesRequest request;
  request.mutable_filter()->set_entity_type("user");
  request.mutable_filter()->set_entity_id(id);
  audit::v1::ListActivitiesResponse response;
  while (absl::Now() - created < absl::Seconds(10)) {
    ASSERT_TRUE(audit_stub_->ListActivities(Context(token).get(), request, &response).ok());
    if (response.activities_size() > 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  // Reported, not asserted: timing on a shared machine is no test.
  log::Info("activity visible in audit")
      .Num("seconds_after_create", absl::ToDoubleSeconds(absl::Now() - created));
  ASSERT_EQ(response.activities_size(), 1);
  const audit::v1::Activity& activity = response.activities(0);
  EXPECT_EQ(activity.action(), "user.created");
  EXPECT_EQ(activity.service(), "auth");
  EXPECT_EQ(activity.user_id(), 1);  // the bootstrap admin did it
  EXPECT_THAT(activity.details_json(), ::testing::HasSubstr("agent1@crm.local"));

  request.Clear();
  request.mutable_filter()->set_action("auth.sign_in_succeeded");
  request.mutable_filter()->set_user_id(1);
  ASSERT_TRUE(audit_stub_->ListActivities(Context(token).get(), request, &response).ok());
  EXPECT_GE(response.activities_size(), 1);
}

// Auth signing in to itself, audit fetching auth's keys, the relay's stream
// and the clients' calls all cross mutual TLS; a plaintext client or one with
// a certificate from another CA is refused.
TEST_F(ActivityLogTest, TheActivityPathWorksOverMutualTls) {
  UseMutualTls();
  StartAuth();
  StartAudit();
  for (const auto& refused : {grpc::InsecureChannelCredentials(), Credentials("rogue")}) {
    for (const ServiceProcess* process : {auth_.get(), audit_.get()}) {
      EXPECT_FALSE(crm::testing::CheckHealth(grpc::CreateChannel(process->address(), refused)).ok())
          << process->address();
    }
  }
  const std::string token = AdminToken();
  ASSERT_FALSE(token.empty());
  const int64_t id = CreateUser(token, 1);
  ASSERT_NE(id, 0);
  ASSERT_TRUE(OutboxDrains());  // the relay streamed it

  audit::v1::ListActivitiesRequest request;  // audit checks the token with auth's keys
  request.mutable_filter()->set_entity_type("user");
  request.mutable_filter()->set_entity_id(id);
  audit::v1::ListActivitiesResponse response;
  grpc::Status status = audit_stub_->ListActivities(Context(token).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.activities_size(), 1);
  EXPECT_EQ(response.activities(0).action(), "user.created");
  ExpectExactlyOnceInOrder();
  EXPECT_EQ(auth_->Stop(SIGTERM), 0);
  EXPECT_EQ(audit_->Stop(SIGTERM), 0);
}

TEST_F(ActivityLogTest, AuditStoppedOrKilledWhileAuthKeepsWritingLosesNothing) {
  StartAuth();
  StartAudit();
  const std::string token = AdminToken();
  int n = 0;
  // Stopped cleanly (it ends the relay's stream), then killed outright.
  for (const int signal : {SIGTERM, SIGKILL}) {
    for (const int end = n + 10; n < end; ++n) {
      ASSERT_NE(CreateUser(token, n), 0);
    }
    EXPECT_EQ(audit_->Stop(signal), signal == SIGTERM ? 0 : 128 + SIGKILL);
    for (const int end = n + 10; n < end; ++n) {
      ASSERT_NE(CreateUser(token, n), 0);  // auth does not depend on audit being up
    }
    EXPECT_GT(Query("crm_auth", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"), 0);
    StartAudit();
  }
  for (const int end = n + 10; n < end; ++n) {
    ASSERT_NE(CreateUser(token, n), 0);
  }
  ASSERT_TRUE(OutboxDrains());
  ExpectExactlyOnceInOrder();
  EXPECT_EQ(auth_->Stop(SIGTERM), 0);  // the relay survived all of it
}

TEST_F(ActivityLogTest, RelayKilledMidBatchResendsWithoutLossOrDuplicate) {
  StartAudit();  // audit starts before auth here; it fetches keys lazily
  StartAuth();
  ASSERT_TRUE(OutboxDrains());
  // A burst large enough to take several batches, written straight into
  // auth's outbox as its own code would.
  ASSERT_TRUE(cluster_
                  ->Exec("INSERT INTO outbox (event_id, service, actor_user_id, action, "
                         "entity_type, entity_id, details) "
                         "SELECT gen_random_uuid(), 'auth', 1, 'user.updated', 'user', i % 50, "
                         "jsonb_build_object('i', i) FROM generate_series(1, 20000) i",
                         "crm_auth")
                  .ok());
  // Kill auth, and its relay with it, once delivery has started.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (Query("crm_auth",
               "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL "
               "AND action = 'user.updated'") == 0 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(auth_->Stop(SIGKILL), 128 + SIGKILL);
  const int64_t delivered = Query("crm_auth",
                                  "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL AND "
                                  "action = 'user.updated'");
  EXPECT_GT(delivered, 0);
  EXPECT_LT(delivered, 20000) << "the kill came too late to interrupt delivery";
  StartAuth();
  ASSERT_TRUE(OutboxDrains());
  ExpectExactlyOnceInOrder();
  EXPECT_EQ(auth_->Stop(SIGTERM), 0);
  EXPECT_EQ(audit_->Stop(SIGTERM), 0);
}

// The relay on its own, for another service's database: only one of two
// relays delivers, the other takes over when it stops, and the janitor's
// outbox task purges delivered rows after the retention period (zero here).
TEST_F(ActivityLogTest, OneRelayPerDatabaseDeliversPurgesAndHandsOver) {
  StartAuth();
  StartAudit();
  auto dsn = cluster_->CreateServiceDatabase("crm_producer");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  ASSERT_TRUE(db::ApplyMigrations(*dsn, outbox::Migrations()).ok());
  // A second database of "auth" (as another replica's would be), so events
  // name auth, whose account the relays sign in with.
  auth::ServiceCredentials credentials(auth_->channel(), auth::ServiceAccountEmail("auth"),
                                       "auth-service-account-secret-1");
  auto relay = [&] {
    outbox::RelayOptions options;
    options.dsn = *dsn;
    options.audit_channel = audit_->channel();
    options.authorize = [&credentials](grpc::ClientContext& c) { return credentials.Attach(c); };
    options.idle_poll = absl::Milliseconds(200);
    auto r = std::make_unique<outbox::Relay>(options);
    r->Start();
    return r;
  };
  auto insert = [&](int from, int to) {
    ASSERT_TRUE(
        cluster_
            ->Exec(absl::StrCat("INSERT INTO outbox (event_id, service, action, entity_type, "
                                "entity_id) SELECT gen_random_uuid(), 'auth', "
                                "'thing.created', 'thing', i FROM generate_series(",
                                from, ", ", to, ") i"),
                   "crm_producer")
            .ok());
  };
  auto stored = [&] {
    return Query("crm_audit", "SELECT count(*) FROM activities WHERE action = 'thing.created'");
  };
  auto eventually = [](auto condition) {
    for (int i = 0; i < 300 && !condition(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    return condition();
  };

  std::unique_ptr<outbox::Relay> relays[2] = {relay(), relay()};
  insert(1, 100);
  ASSERT_TRUE(eventually([&] { return stored() == 100; }));
  const int leader = relays[0]->delivered() > 0 ? 0 : 1;
  EXPECT_EQ(relays[leader]->delivered(), 100);
  EXPECT_EQ(relays[1 - leader]->delivered(), 0);
  {
    db::Pool pool({.dsn = *dsn, .size = 1, .statements = {}});
    retention::Janitor janitor({.batch = 30});
    janitor.Add(outbox::PurgeDelivered(&pool, absl::ZeroDuration()));
    EXPECT_EQ(janitor.RunOnce()["outbox"], 100);
  }
  EXPECT_EQ(Query("crm_producer", "SELECT count(*) FROM outbox"), 0);

  relays[leader]->Stop();
  insert(101, 150);
  ASSERT_TRUE(eventually([&] { return stored() == 150; }));
  EXPECT_EQ(relays[1 - leader]->delivered(), 50);
  relays[1 - leader]->Stop();
  EXPECT_EQ(Query("crm_audit",
                  "SELECT count(DISTINCT entity_id) FROM activities "
                  "WHERE action = 'thing.created'"),
            150);
}

// A poison event never stops a service's pipeline: events far larger in
// total than audit's 4 MiB message limit go in byte-bounded batches, an
// event too large to send is quarantined by the relay, one the audit
// database refuses is rejected alone, and everything after them flows, in
// order. The quarantined rows stay, with their reasons, and show in the
// relay's health details.
TEST_F(ActivityLogTest, APoisonEventNeverStopsThePipeline) {
  StartAuth();
  StartAudit();
  ASSERT_TRUE(cluster_
                  ->Exec("ALTER TABLE activities ADD CONSTRAINT no_poison "
                         "CHECK (action <> 'thing.poisoned')",
                         "crm_audit")
                  .ok());
  auto dsn = cluster_->CreateServiceDatabase("crm_producer");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  ASSERT_TRUE(db::ApplyMigrations(*dsn, outbox::Migrations()).ok());
  auto insert = [&](int from, int to, const std::string& action, int detail_bytes) {
    ASSERT_TRUE(cluster_
                    ->Exec(absl::StrCat("INSERT INTO outbox (event_id, service, action, "
                                        "entity_type, entity_id, details) SELECT "
                                        "gen_random_uuid(), 'auth', '",
                                        action,
                                        "', 'thing', i, jsonb_build_object('notes', "
                                        "repeat('x', ",
                                        detail_bytes, ")) FROM generate_series(", from, ", ", to,
                                        ") i ORDER BY i"),
                           "crm_producer")
                    .ok());
  };
  insert(1, 100, "thing.created", 60000);    // ~6 MB in all
  insert(101, 101, "thing.created", 70000);  // past the per-event limit
  insert(102, 102, "thing.poisoned", 10);    // refused by the audit database
  insert(103, 110, "thing.created", 10);
  auth::ServiceCredentials credentials(auth_->channel(), auth::ServiceAccountEmail("auth"),
                                       "auth-service-account-secret-1");
  outbox::RelayOptions options;
  options.dsn = *dsn;
  options.audit_channel = audit_->channel();
  options.authorize = [&credentials](grpc::ClientContext& c) { return credentials.Attach(c); };
  options.idle_poll = absl::Milliseconds(200);
  outbox::Relay relay(options);
  relay.Start();
  auto eventually = [](auto condition) {
    for (int i = 0; i < 600 && !condition(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    return condition();
  };
  ASSERT_TRUE(eventually([&] { return relay.delivered() + relay.quarantined() == 110; }))
      << "delivered " << relay.delivered() << ", quarantined " << relay.quarantined();
  EXPECT_EQ(relay.delivered(), 108);
  EXPECT_EQ(relay.quarantined(), 2);
  // Stored in outbox order, the two poison events left out, the chain whole.
  // (Compared among these events only: auth's own activities, such as its
  // relay signing in, may land between them.)
  EXPECT_EQ(Query("crm_audit",
                  "SELECT count(*) FROM (SELECT entity_id, lag(entity_id) OVER (ORDER BY id) "
                  "AS previous FROM activities WHERE action LIKE 'thing.%') t "
                  "WHERE entity_id < previous"),
            0);
  EXPECT_EQ(Query("crm_audit", "SELECT count(*) FROM activities WHERE action LIKE 'thing.%'"), 108);
  EXPECT_EQ(Query("crm_producer",
                  "SELECT count(*) FROM outbox WHERE entity_id = 101 AND delivered_at IS NOT NULL "
                  "AND rejected_reason LIKE 'not sent: % bytes, larger than an event may be%'"),
            1);
  EXPECT_EQ(Query("crm_producer",
                  "SELECT count(*) FROM outbox WHERE entity_id = 102 AND delivered_at IS NOT NULL "
                  "AND rejected_reason LIKE '%SQLSTATE 23514%'"),
            1);
  EXPECT_TRUE(eventually([&] {
    return absl::StrContains(relay.HealthJson(), R"("pending":0,"quarantined":2)");
  })) << relay.HealthJson();
  // The janitor keeps quarantined rows however old.
  {
    db::Pool pool({.dsn = *dsn, .size = 1, .statements = {}});
    retention::Janitor janitor;
    janitor.Add(outbox::PurgeDelivered(&pool, absl::ZeroDuration()));
    EXPECT_EQ(janitor.RunOnce()["outbox"], 108);
  }
  EXPECT_EQ(Query("crm_producer", "SELECT count(*) FROM outbox"), 2);
  relay.Stop();
}

}  // namespace
}  // namespace crm
