// The whole suite as an operator runs it: five real binaries, each on its own
// database in one throwaway cluster, checked over gRPC (health, reflection
// through buf when installed) and in PostgreSQL (seed tables and indexes).

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/files/read_file.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::crm::testing::CheckHealth;
using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::testing::HasSubstr;

// The types a seed column may have, as information_schema.columns names them
// (data_type): the seed's own or a wider one. A VARCHAR(n) of the seed must
// stay at least n characters (character_maximum_length; TEXT and unbounded
// varchar have none, and are wide enough).
struct ColumnType {
  std::set<std::string> data_types;
  int min_length = 0;
};

ColumnType Id() { return {{"bigint", "integer"}}; }  // the seed's SERIAL and INTEGER ids
ColumnType Timestamp() { return {{"timestamp with time zone", "timestamp without time zone"}}; }
ColumnType Money() { return {{"numeric"}}; }
ColumnType Text() { return {{"text", "character varying"}}; }
ColumnType Varchar(int length) { return {{"character varying", "text"}, length}; }

struct ServiceSpec {
  std::string name;
  std::vector<std::string> grpc_services;
  std::vector<std::string> methods;  // as named in the API contract
  // seed table → its seed columns, each with the types it may have
  std::map<std::string, std::map<std::string, ColumnType>> tables;
  std::vector<std::string> indexes;
};

const std::vector<ServiceSpec>& Specs() {
  static const auto* specs = new std::vector<ServiceSpec>{
      {"auth",
       {"crm.auth.v1.AuthService", "crm.auth.v1.UserService"},
       {"crm.auth.v1.AuthService/Login", "crm.auth.v1.AuthService/RefreshToken",
        "crm.auth.v1.AuthService/Logout", "crm.auth.v1.AuthService/ListPublicKeys",
        "crm.auth.v1.UserService/CreateUser", "crm.auth.v1.UserService/GetUser",
        "crm.auth.v1.UserService/ListUsers", "crm.auth.v1.UserService/UpdateUser",
        "crm.auth.v1.UserService/ChangePassword", "crm.auth.v1.UserService/DeactivateUser"},
       {{"users",
         {{"id", Id()},
          {"name", Varchar(100)},
          {"email", Varchar(100)},
          {"role", Varchar(50)},
          {"password_hash", Text()}}}},
       {"idx_users_email"}},
      {"leads",
       {"crm.leads.v1.LeadService"},
       {"crm.leads.v1.LeadService/CreateLead", "crm.leads.v1.LeadService/CaptureLead",
        "crm.leads.v1.LeadService/GetLead", "crm.leads.v1.LeadService/ListLeads",
        "crm.leads.v1.LeadService/UpdateLead", "crm.leads.v1.LeadService/AssignLead",
        "crm.leads.v1.LeadService/ClaimLead", "crm.leads.v1.LeadService/DeleteLead"},
       {{"leads",
         {{"id", Id()},
          {"name", Varchar(100)},
          {"contact_info", Text()},
          {"assigned_to", Id()},
          {"status", Varchar(50)}}}},
       {"idx_leads_assigned_to"}},
      {"properties",
       {"crm.properties.v1.PropertyService"},
       {"crm.properties.v1.PropertyService/CreateProperty",
        "crm.properties.v1.PropertyService/GetProperty",
        "crm.properties.v1.PropertyService/ListProperties",
        "crm.properties.v1.PropertyService/UpdateProperty",
        "crm.properties.v1.PropertyService/DeleteProperty",
        "crm.properties.v1.PropertyService/ImportProperties"},
       {{"properties",
         {{"id", Id()},
          {"mls_id", Varchar(50)},
          {"address", Text()},
          {"price", Money()},
          {"status", Varchar(50)},
          {"agent_id", Id()}}}},
       {"idx_properties_mls_id"}},
      {"notifications",
       {"crm.notifications.v1.NotificationService"},
       {"crm.notifications.v1.NotificationService/ListNotifications",
        "crm.notifications.v1.NotificationService/MarkNotificationsRead",
        "crm.notifications.v1.NotificationService/WatchNotifications",
        "crm.notifications.v1.NotificationService/CreateNotification"},
       {{"notifications",
         {{"id", Id()},
          {"recipient_id", Id()},
          {"message", Text()},
          {"status", Varchar(50)},
          {"created_at", Timestamp()}}}},
       {"idx_notifications_recipient_id"}},
      {"audit",
       {"crm.audit.v1.AuditService"},
       {"crm.audit.v1.AuditService/RecordActivities", "crm.audit.v1.AuditService/ListActivities",
        "crm.audit.v1.AuditService/WatchActivities", "crm.audit.v1.AuditService/VerifyActivities"},
       {{"activities",
         {{"id", Id()}, {"user_id", Id()}, {"action", Text()}, {"timestamp", Timestamp()}}}},
       {"idx_activities_user_id", "idx_activities_timestamp"}},
  };
  return *specs;
}

// A service binary started without waiting for SERVING, for start-up
// failures; its log goes to a temporary file, removed afterwards.
class RawProcess {
 public:
  RawProcess(const std::string& name, std::vector<std::string> args)
      : log_path_(absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-raw-", name,
                               "-", getpid(), "-", ++counter_, ".log")) {
    args.insert(args.begin(), absl::StrCat(CRM_BIN_DIR, "/crm-", name));
    absl::StatusOr<pid_t> pid = crm::testing::SpawnProcess(args, {}, log_path_);
    pid_ = pid.ok() ? *pid : -1;
  }
  RawProcess(const RawProcess&) = delete;
  RawProcess& operator=(const RawProcess&) = delete;
  ~RawProcess() {
    if (pid_ > 0) {
      crm::testing::StopProcess(pid_, SIGKILL, absl::Seconds(5));
    }
    std::filesystem::remove(log_path_);
  }

  bool started() const { return pid_ > 0; }
  // Sends `signal` (0: none, just wait) and returns the exit code.
  int Stop(int signal, absl::Duration timeout) {
    const int code = crm::testing::StopProcess(pid_, signal, timeout);
    pid_ = -1;
    return code;
  }
  std::string Log() const { return ReadFileToString(log_path_).value_or(""); }

 private:
  static inline int counter_ = 0;
  const std::string log_path_;
  pid_t pid_ = -1;
};

class SuiteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster).release();
    for (const ServiceSpec& spec : Specs()) {
      auto dsn = cluster_->CreateServiceDatabase("crm_" + spec.name);
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      dsns_[spec.name] = *dsn;
    }
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static std::unique_ptr<ServiceProcess> StartService(const std::string& name,
                                                      std::vector<std::string> args = {},
                                                      std::vector<std::string> env = {}) {
    args.push_back("--dsn=" + dsns_[name]);
    args.push_back("--db_health_interval_ms=100");
    auto process = ServiceProcess::Start(name, args, env);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? std::move(*process) : nullptr;
  }

  static bool EventuallyHealth(const ServiceProcess& process, const std::string& want) {
    for (int i = 0; i < 150; ++i) {
      auto health = CheckHealth(process.channel());
      if (health.ok() && *health == want) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  static PgCluster* cluster_;
  static std::map<std::string, std::string> dsns_;
};

PgCluster* SuiteTest::cluster_ = nullptr;
std::map<std::string, std::string> SuiteTest::dsns_;

TEST_F(SuiteTest, EveryServiceServesAndOwnsItsSeedSchema) {
  std::vector<std::unique_ptr<ServiceProcess>> processes;
  for (const ServiceSpec& spec : Specs()) {
    processes.push_back(StartService(spec.name));
    ASSERT_NE(processes.back(), nullptr);
  }
  for (size_t i = 0; i < Specs().size(); ++i) {
    const ServiceSpec& spec = Specs()[i];
    for (const std::string& service : spec.grpc_services) {
      auto health = CheckHealth(processes[i]->channel(), service);
      ASSERT_TRUE(health.ok()) << spec.name << " " << health.status();
      EXPECT_EQ(*health, "SERVING") << service;
    }

    // Checked as the service's own role: it owns its tables.
    pqxx::connection conn(dsns_[spec.name]);
    pqxx::nontransaction tx(conn);
    for (const auto& [table, seed_columns] : spec.tables) {
      // column → (data_type, character_maximum_length or kUnbounded)
      constexpr int kUnbounded = std::numeric_limits<int>::max();
      std::map<std::string, std::pair<std::string, int>> columns;
      for (const auto& row :
           tx.exec_params("SELECT column_name, data_type, character_maximum_length "
                          "FROM information_schema.columns WHERE table_name = $1",
                          table)) {
        columns[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<int>(kUnbounded)};
      }
      for (const auto& [column, seed_type] : seed_columns) {
        const auto found = columns.find(column);
        if (found == columns.end()) {
          ADD_FAILURE() << table << "." << column << " is missing";
          continue;
        }
        const auto& [data_type, length] = found->second;
        EXPECT_TRUE(seed_type.data_types.count(data_type))
            << table << "." << column << " is " << data_type;
        EXPECT_GE(length, seed_type.min_length)
            << table << "." << column << " is narrower than the seed's";
      }
      EXPECT_EQ(tx.exec_params1("SELECT tableowner FROM pg_tables WHERE tablename = $1", table)[0]
                    .as<std::string>(),
                "crm_" + spec.name);
    }
    for (const std::string& index : spec.indexes) {
      EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM pg_indexes WHERE indexname = $1", index)[0]
                    .as<int>(),
                1)
          << index;
    }
    EXPECT_GE(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>(), 1);
  }
  for (auto& process : processes) {
    EXPECT_EQ(process->Stop(SIGTERM), 0);
  }
}

TEST_F(SuiteTest, ServicesRequireAValidTokenFromAuth) {
  // auth with a bootstrap admin, leads verifying tokens against auth's keys.
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string password_file = absl::StrCat(dir, "/crm-admin-", getpid());
  ASSERT_TRUE(
      crm::testing::RunCommand({"sh", "-c", "printf e2e-admin-pass > " + password_file}).ok());
  auto auth = StartService(
      "auth", {"--admin_email=admin@crm.local", "--admin_password_file=" + password_file});
  ASSERT_NE(auth, nullptr);
  auto leads = StartService("leads", {"--auth_address=" + auth->address()});
  ASSERT_NE(leads, nullptr);

  auto lead_stub = crm::leads::v1::LeadService::NewStub(leads->channel());
  crm::leads::v1::GetLeadRequest request;
  crm::leads::v1::GetLeadResponse response;
  const auto call = [&](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) {
      context.AddMetadata("authorization", "Bearer " + token);
    }
    return lead_stub->GetLead(&context, request, &response).error_code();
  };
  EXPECT_EQ(call(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("forged.token.value"), grpc::StatusCode::UNAUTHENTICATED);

  auto auth_stub = crm::auth::v1::AuthService::NewStub(auth->channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  crm::auth::v1::LoginRequest login;
  login.set_email("admin@crm.local");
  login.set_password("e2e-admin-pass");
  crm::auth::v1::LoginResponse session;
  ASSERT_TRUE(auth_stub->Login(&context, login, &session).ok());
  // A real token gets through to the method (which refuses lead id 0).
  EXPECT_EQ(call(session.access_token()), grpc::StatusCode::INVALID_ARGUMENT);

  // Streams check the token the same way: refused without one, open with one.
  auto notifications = StartService("notifications", {"--auth_address=" + auth->address()});
  ASSERT_NE(notifications, nullptr);
  auto watch_stub = crm::notifications::v1::NotificationService::NewStub(notifications->channel());
  {
    grpc::ClientContext watch_context;
    watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = watch_stub->WatchNotifications(&watch_context, {});
    crm::notifications::v1::WatchNotificationsResponse message;
    EXPECT_FALSE(reader->Read(&message));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext watch_context;
    watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    watch_context.AddMetadata("authorization", "Bearer " + session.access_token());
    auto reader = watch_stub->WatchNotifications(&watch_context, {});
    reader->WaitForInitialMetadata();  // the stream is live
    watch_context.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::filesystem::remove(password_file);
}

TEST_F(SuiteTest, ReflectionListsEveryMethodForBufCurl) {
  if (!std::filesystem::exists(CRM_BUF_BIN)) {
    GTEST_SKIP() << "buf not installed (npm ci --prefix tools)";
  }
  for (const ServiceSpec& spec : Specs()) {
    auto process = StartService(spec.name);
    ASSERT_NE(process, nullptr);
    const std::string url = "http://" + process->address();
    auto listed = crm::testing::RunCommand({CRM_BUF_BIN, "curl", "--protocol", "grpc",
                                            "--http2-prior-knowledge", "--list-methods", url});
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->exit_code, 0) << listed->output;
    for (const std::string& method : spec.methods) {
      EXPECT_THAT(listed->output, HasSubstr(method)) << spec.name;
    }
    // Health answers a schema-less client too.
    auto health = crm::testing::RunCommand({CRM_BUF_BIN, "curl", "--protocol", "grpc",
                                            "--http2-prior-knowledge", "-d", "{}",
                                            url + "/grpc.health.v1.Health/Check"});
    ASSERT_TRUE(health.ok());
    EXPECT_THAT(health->output, HasSubstr("\"status\": \"SERVING\"")) << spec.name;
  }
}

TEST_F(SuiteTest, SigtermDrainsAndExitsZero) {
  auto audit = StartService("audit");
  ASSERT_NE(audit, nullptr);
  EXPECT_EQ(audit->Stop(SIGTERM), 0);
  EXPECT_THAT(audit->Log(), HasSubstr("\"msg\":\"shutting down\""));
  EXPECT_THAT(audit->Log(), HasSubstr("\"msg\":\"stopped\""));
}

TEST_F(SuiteTest, EnvironmentOverridesDefaultsAndFlagsOverrideEnvironment) {
  // DSN only from the environment; the listen address from env is overridden
  // by the harness's --listen flag.
  auto properties = ServiceProcess::Start(
      "properties", {"--db_health_interval_ms=100"},
      {"CRM_PROPERTIES_DSN=" + dsns_["properties"], "CRM_PROPERTIES_LISTEN=127.0.0.1:1"});
  ASSERT_TRUE(properties.ok()) << properties.status();
  EXPECT_THAT((*properties)->Log(), HasSubstr("\"port\":" + std::to_string((*properties)->port())));
}

TEST_F(SuiteTest, LogsAreJsonLinesWithoutSecrets) {
  const std::string password_file =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-admin-logs-", getpid());
  ASSERT_TRUE(
      crm::testing::RunCommand({"sh", "-c", "printf e2e-admin-pass > " + password_file}).ok());
  auto auth = StartService(
      "auth", {"--admin_email=admin@crm.local", "--admin_password_file=" + password_file});
  ASSERT_NE(auth, nullptr);
  const auto context = [](const std::string& token = "") {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c->AddMetadata("x-request-id", "logs-test-1");
    if (!token.empty()) {
      c->AddMetadata("authorization", "Bearer " + token);
    }
    return c;
  };
  // Traffic carrying every kind of secret: passwords right and wrong, access
  // and refresh tokens, a new user's password.
  auto auth_stub = crm::auth::v1::AuthService::NewStub(auth->channel());
  crm::auth::v1::LoginRequest login;
  login.set_email("admin@crm.local");
  login.set_password("e2e-admin-pass");
  crm::auth::v1::LoginResponse session;
  ASSERT_TRUE(auth_stub->Login(context().get(), login, &session).ok());
  login.set_password("wrong-secret-pass-1");
  crm::auth::v1::LoginResponse refused;
  EXPECT_EQ(auth_stub->Login(context().get(), login, &refused).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  crm::auth::v1::RefreshTokenRequest refresh;
  refresh.set_refresh_token(session.refresh_token());
  crm::auth::v1::RefreshTokenResponse refreshed;
  ASSERT_TRUE(auth_stub->RefreshToken(context().get(), refresh, &refreshed).ok());
  auto users = crm::auth::v1::UserService::NewStub(auth->channel());
  crm::auth::v1::CreateUserRequest create;
  create.mutable_user()->set_name("Log Test");
  create.mutable_user()->set_email(absl::StrCat("log-test-", getpid(), "@crm.local"));
  create.mutable_user()->set_role(crm::auth::v1::ROLE_AGENT);
  create.set_password("new-user-secret-9");
  crm::auth::v1::CreateUserResponse created;
  ASSERT_TRUE(users->CreateUser(context(refreshed.access_token()).get(), create, &created).ok());
  ASSERT_EQ(auth->Stop(SIGTERM), 0);

  const std::string log = auth->Log();
  int rpc_lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(entry.is_object()) << line;
    for (const char* field : {"time", "level", "msg", "service"}) {
      EXPECT_TRUE(entry.contains(field) && entry[field].is_string()) << field << " in " << line;
    }
    EXPECT_EQ(entry.value("service", ""), "auth") << line;
    if (entry.value("msg", "") == "rpc" && entry.value("request_id", "") == "logs-test-1") {
      ++rpc_lines;
      EXPECT_TRUE(entry.contains("method") && entry.contains("code") &&
                  entry.contains("latency_ms") && entry.contains("peer"))
          << line;
    }
  }
  EXPECT_EQ(rpc_lines, 4);  // every call above, with its request id
  const std::string signature = [](const std::string& token) {
    return token.substr(token.rfind('.') + 1);
  }(session.access_token());
  for (const std::string& secret :
       {std::string("e2e-admin-pass"), std::string("wrong-secret-pass-1"),
        std::string("new-user-secret-9"), session.refresh_token(), refreshed.refresh_token(),
        signature, refreshed.access_token()}) {
    EXPECT_THAT(log, ::testing::Not(HasSubstr(secret))) << secret.substr(0, 12);
  }
  EXPECT_THAT(log, ::testing::Not(HasSubstr("password=")));
}

TEST_F(SuiteTest, SecondCopyOnSamePortExitsWithClearError) {
  auto first = StartService("notifications");
  ASSERT_NE(first, nullptr);
  RawProcess second("notifications",
                    {"--listen=" + first->address(), "--dsn=" + dsns_["notifications"]});
  ASSERT_TRUE(second.started());
  EXPECT_EQ(second.Stop(0, absl::Seconds(20)), 1);
  EXPECT_THAT(second.Log(), HasSubstr("cannot listen on " + first->address()));
  EXPECT_EQ(*CheckHealth(first->channel()), "SERVING");
}

TEST_F(SuiteTest, UnreachableDatabaseAtStartExitsNonZero) {
  RawProcess leads("leads", {"--listen=127.0.0.1:0",
                             "--dsn=host=127.0.0.1 port=1 dbname=crm_leads user=crm_leads",
                             "--db_startup_timeout_seconds=1"});
  ASSERT_TRUE(leads.started());
  EXPECT_EQ(leads.Stop(0, absl::Seconds(30)), 1);
  EXPECT_THAT(leads.Log(), HasSubstr("database not ready"));
}

TEST_F(SuiteTest, SigtermWhileWaitingForDatabaseExitsPromptly) {
  RawProcess audit("audit", {"--listen=127.0.0.1:0",
                             "--dsn=host=127.0.0.1 port=1 dbname=crm_audit user=crm_audit",
                             "--db_startup_timeout_seconds=60"});
  ASSERT_TRUE(audit.started());
  // SIGTERM only once the process is waiting (its signals are blocked by
  // then); sent earlier it would kill a process that has not set them up.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (absl::Now() < give_up &&
         audit.Log().find("waiting for the database") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT(audit.Log(), HasSubstr("waiting for the database"));
  const absl::Time start = absl::Now();
  EXPECT_EQ(audit.Stop(SIGTERM, absl::Seconds(10)), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_THAT(audit.Log(), HasSubstr("waiting for the database"));
}

TEST_F(SuiteTest, DatabaseOutageFlipsHealthAndRecovers) {
  // A cluster of its own: stopping the suite's would disturb the other tests.
  auto own = PgCluster::Create();
  ASSERT_TRUE(own.ok()) << own.status();
  auto dsn = (*own)->CreateServiceDatabase("crm_leads");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  auto started = ServiceProcess::Start("leads", {"--dsn=" + *dsn, "--db_health_interval_ms=100"});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<ServiceProcess> leads = *std::move(started);
  ASSERT_TRUE((*own)->Stop().ok());
  EXPECT_TRUE(EventuallyHealth(*leads, "NOT_SERVING"));
  ASSERT_TRUE((*own)->Start().ok());
  EXPECT_TRUE(EventuallyHealth(*leads, "SERVING"));
  EXPECT_THAT(leads->Log(), HasSubstr("\"msg\":\"dependency down\""));
  EXPECT_THAT(leads->Log(), HasSubstr("\"msg\":\"dependency up\""));
  EXPECT_EQ(leads->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crm
