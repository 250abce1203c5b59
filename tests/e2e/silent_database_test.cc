// The real auth binary with its database behind a fault-injecting proxy: a
// database that goes silent (packets dropped) or resets its connections must
// turn health NOT_SERVING, make RPCs fail within their deadline round after
// round (no worker or pool connection stuck in libpq), and be forgotten once
// the database is back.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/migrations.h"
#include "common/files/read_file.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/tcp_proxy.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::crm::testing::TcpProxy;

constexpr absl::Duration kRpcDeadline = absl::Seconds(2);
// What an RPC may take beyond its deadline to come back.
constexpr absl::Duration kRpcMargin = absl::Milliseconds(500);

std::chrono::system_clock::time_point After(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

struct Outcome {
  grpc::StatusCode code;
  absl::Duration took;
};

class SilentDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateServiceDatabase("crm_auth").ok());
    auto proxy = TcpProxy::Start("127.0.0.1", cluster_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    password_file_ = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                  "/crm-silent-admin-", getpid());
    ASSERT_TRUE(
        crm::testing::RunCommand({"sh", "-c", "printf silent-admin-pass > " + password_file_})
            .ok());
    auto auth = ServiceProcess::Start(
        "auth", {absl::StrCat("--dsn=host=127.0.0.1 port=", proxy_->port(),
                              " dbname=crm_auth user=crm_auth"),
                 "--admin_email=admin@crm.local", "--admin_password_file=" + password_file_,
                 "--db_health_interval_ms=200"});
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    users_ = crm::auth::v1::UserService::NewStub(auth_->channel());

    auto auth_stub = crm::auth::v1::AuthService::NewStub(auth_->channel());
    grpc::ClientContext context;
    context.set_deadline(After(absl::Seconds(10)));
    crm::auth::v1::LoginRequest login;
    login.set_email("admin@crm.local");
    login.set_password("silent-admin-pass");
    crm::auth::v1::LoginResponse session;
    ASSERT_TRUE(auth_stub->Login(&context, login, &session).ok());
    token_ = session.access_token();  // checked locally: no database needed
  }

  void TearDown() override {
    if (auth_ != nullptr) {
      EXPECT_EQ(auth_->Stop(SIGTERM), 0);
    }
    if (proxy_ != nullptr) {
      proxy_->Stop();
    }
    std::filesystem::remove(password_file_);
  }

  std::string Health() {
    grpc::ClientContext context;
    context.set_deadline(After(absl::Milliseconds(500)));
    auto stub = grpc::health::v1::Health::NewStub(auth_->channel());
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, {}, &response);
    if (!status.ok()) {
      return absl::StrCat("error ", status.error_code());
    }
    return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  }

  // Polls health until it reads `want`; how long that took, or nullopt when
  // `within` passed first.
  std::optional<absl::Duration> AwaitHealth(const std::string& want, absl::Duration within) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < within) {
      if (Health() == want) {
        return absl::Now() - start;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::nullopt;
  }

  // GetUser goes through the pipelined reader, ListUsers through the pool.
  Outcome GetUser() {
    grpc::ClientContext context;
    context.set_deadline(After(kRpcDeadline));
    context.AddMetadata("authorization", "Bearer " + token_);
    crm::auth::v1::GetUserRequest request;
    request.set_id(1);
    crm::auth::v1::GetUserResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = users_->GetUser(&context, request, &response);
    return {status.error_code(), absl::Now() - start};
  }
  Outcome ListUsers() {
    grpc::ClientContext context;
    context.set_deadline(After(kRpcDeadline));
    context.AddMetadata("authorization", "Bearer " + token_);
    crm::auth::v1::ListUsersRequest request;
    crm::auth::v1::ListUsersResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = users_->ListUsers(&context, request, &response);
    return {status.error_code(), absl::Now() - start};
  }

  // `n` of each RPC at once; more than the service has workers (8) or pool
  // connections, so a worker stuck for good would show in later rounds.
  std::vector<Outcome> Burst(int n) {
    std::vector<Outcome> outcomes(2 * n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] { outcomes[2 * i] = GetUser(); });
      threads.emplace_back([&, i] { outcomes[2 * i + 1] = ListUsers(); });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    return outcomes;
  }

  // Both RPCs succeed again within `within`; how long that took.
  std::optional<absl::Duration> AwaitRpcsSucceed(absl::Duration within) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < within) {
      if (GetUser().code == grpc::StatusCode::OK && ListUsers().code == grpc::StatusCode::OK) {
        return absl::Now() - start;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return std::nullopt;
  }

  // The fault in `mode`: health flips, bursts fail in time, round after
  // round; then the database is back and so is the service.
  void FaultAndRecover(TcpProxy::Mode mode, const char* name) {
    ASSERT_EQ(Health(), "SERVING");
    ASSERT_EQ(GetUser().code, grpc::StatusCode::OK);
    ASSERT_EQ(ListUsers().code, grpc::StatusCode::OK);

    proxy_->SetMode(mode);
    const std::optional<absl::Duration> flipped = AwaitHealth("NOT_SERVING", absl::Seconds(10));
    ASSERT_TRUE(flipped.has_value()) << name << ": health still " << Health();
    std::cerr << name << ": NOT_SERVING after " << *flipped << "\n";

    absl::Duration slowest;
    for (int round = 0; round < 4; ++round) {
      for (const Outcome& outcome : Burst(6)) {
        EXPECT_TRUE(outcome.code == grpc::StatusCode::UNAVAILABLE ||
                    outcome.code == grpc::StatusCode::DEADLINE_EXCEEDED)
            << name << " round " << round << ": code " << outcome.code;
        EXPECT_LT(outcome.took, kRpcDeadline + kRpcMargin) << name << " round " << round;
        slowest = std::max(slowest, outcome.took);
      }
    }
    std::cerr << name << ": slowest failed RPC " << slowest << "\n";
    EXPECT_EQ(Health(), "NOT_SERVING");

    proxy_->SetMode(TcpProxy::Mode::kPass);
    const std::optional<absl::Duration> serving = AwaitHealth("SERVING", absl::Seconds(30));
    ASSERT_TRUE(serving.has_value()) << name << ": health still " << Health();
    const std::optional<absl::Duration> answering = AwaitRpcsSucceed(absl::Seconds(30));
    ASSERT_TRUE(answering.has_value()) << name << ": RPCs still failing";
    std::cerr << name << ": SERVING again after " << *serving << ", RPCs after " << *answering
              << " more\n";
    // Every worker is free again: a full burst succeeds.
    for (const Outcome& outcome : Burst(6)) {
      EXPECT_EQ(outcome.code, grpc::StatusCode::OK) << name << " after recovery";
    }
  }

  std::unique_ptr<PgCluster> cluster_;
  std::unique_ptr<TcpProxy> proxy_;
  std::string password_file_;
  std::unique_ptr<ServiceProcess> auth_;
  std::unique_ptr<crm::auth::v1::UserService::Stub> users_;
  std::string token_;
};

TEST_F(SilentDatabaseTest, DroppedPacketsFailRpcsInTimeAndRecover) {
  FaultAndRecover(TcpProxy::Mode::kDrop, "drop");
}

TEST_F(SilentDatabaseTest, ResetConnectionsFailRpcsInTimeAndRecover) {
  FaultAndRecover(TcpProxy::Mode::kReset, "reset");
}

TEST_F(SilentDatabaseTest, SilenceTwiceInARow) {
  // The connections made after the first silence must be watched as well.
  FaultAndRecover(TcpProxy::Mode::kDrop, "drop 1");
  FaultAndRecover(TcpProxy::Mode::kDrop, "drop 2");
}

// A binary started without waiting for SERVING, for start-up faults.
class StartingProcess {
 public:
  explicit StartingProcess(std::vector<std::string> args)
      : log_path_(absl::StrCat(std::filesystem::temp_directory_path().string(),
                               "/crm-silent-start-", getpid(), "-", ++counter_, ".log")) {
    args.insert(args.begin(), absl::StrCat(CRM_BIN_DIR, "/crm-auth"));
    args.push_back("--listen=127.0.0.1:0");
    absl::StatusOr<pid_t> pid = crm::testing::SpawnProcess(args, {}, log_path_);
    pid_ = pid.ok() ? *pid : -1;
  }
  ~StartingProcess() {
    if (pid_ > 0) {
      crm::testing::StopProcess(pid_, SIGKILL, absl::Seconds(5));
    }
    std::filesystem::remove(log_path_);
  }
  bool started() const { return pid_ > 0; }
  std::string Log() const { return ReadFileToString(log_path_).value_or(""); }
  bool AwaitLog(const std::string& text, absl::Duration within) const {
    const absl::Time give_up = absl::Now() + within;
    while (absl::Now() < give_up) {
      if (Log().find(text) != std::string::npos) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }
  // Sends `signal` (0: none) and returns the exit code.
  int Stop(int signal, absl::Duration timeout) {
    const int code = crm::testing::StopProcess(pid_, signal, timeout);
    pid_ = -1;
    return code;
  }

 private:
  static inline int counter_ = 0;
  const std::string log_path_;
  pid_t pid_ = -1;
};

class SilentStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto dsn = cluster_->CreateServiceDatabase("crm_auth");
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    auto proxy = TcpProxy::Start("127.0.0.1", cluster_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }
  std::string ProxyDsn() const {
    return absl::StrCat("host=127.0.0.1 port=", proxy_->port(), " dbname=crm_auth user=crm_auth");
  }

  std::unique_ptr<PgCluster> cluster_;
  std::string dsn_;
  std::unique_ptr<TcpProxy> proxy_;
};

TEST_F(SilentStartupTest, SilentDatabaseAtStartExitsWithinTheStartupTimeout) {
  proxy_->SetMode(TcpProxy::Mode::kDrop);
  const absl::Time start = absl::Now();
  StartingProcess auth({"--dsn=" + ProxyDsn(), "--db_startup_timeout_seconds=3"});
  ASSERT_TRUE(auth.started());
  EXPECT_EQ(auth.Stop(0, absl::Seconds(30)), 1);
  const absl::Duration took = absl::Now() - start;
  std::cerr << "silent at start: exit 1 after " << took << "\n";
  EXPECT_LT(took, absl::Seconds(3) + absl::Seconds(3));
  EXPECT_THAT(auth.Log(), ::testing::HasSubstr("database not ready"));
}

TEST_F(SilentStartupTest, SigtermWhileConnectingToASilentDatabaseExitsZeroPromptly) {
  proxy_->SetMode(TcpProxy::Mode::kDrop);
  StartingProcess auth({"--dsn=" + ProxyDsn(), "--db_startup_timeout_seconds=60"});
  ASSERT_TRUE(auth.started());
  // Signals are blocked by the time this is logged: SIGTERM cannot kill it.
  ASSERT_TRUE(auth.AwaitLog("opening the database", absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(200));  // well into the connection attempt
  const absl::Time start = absl::Now();
  EXPECT_EQ(auth.Stop(SIGTERM, absl::Seconds(10)), 0);
  std::cerr << "SIGTERM while connecting: exit 0 after " << absl::Now() - start << "\n";
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(SilentStartupTest, SigtermWhileWaitingForTheMigrationLockExitsZeroPromptly) {
  pqxx::connection holder(dsn_);
  pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_lock($1)",
                                           crm::db::kMigrationLockKey);
  StartingProcess auth({"--dsn=" + dsn_, "--db_startup_timeout_seconds=60"});
  ASSERT_TRUE(auth.started());
  ASSERT_TRUE(auth.AwaitLog("waiting for the migration lock", absl::Seconds(20))) << auth.Log();
  const absl::Time start = absl::Now();
  EXPECT_EQ(auth.Stop(SIGTERM, absl::Seconds(10)), 0);
  std::cerr << "SIGTERM while waiting for the lock: exit 0 after " << absl::Now() - start << "\n";
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_THAT(auth.Log(), ::testing::HasSubstr("signal received while applying migrations"));
}

TEST_F(SilentStartupTest, MigrationLockHeldPastTheStartupTimeoutExitsWithAClearError) {
  pqxx::connection holder(dsn_);
  pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_lock($1)",
                                           crm::db::kMigrationLockKey);
  const absl::Time start = absl::Now();
  StartingProcess auth({"--dsn=" + dsn_, "--db_startup_timeout_seconds=2"});
  ASSERT_TRUE(auth.started());
  EXPECT_EQ(auth.Stop(0, absl::Seconds(30)), 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  EXPECT_THAT(auth.Log(), ::testing::HasSubstr("waiting for the migration lock: not done within"));
}

}  // namespace
}  // namespace crm
