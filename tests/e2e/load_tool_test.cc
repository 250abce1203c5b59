// crm-load end to end: the real binary against the real crm-auth on a
// throwaway cluster. Pair mode on UserService/GetUser reports all three runs
// and consistent arithmetic; a bad invocation fails before any load with a
// message naming the problem; {n} drawn from a range touches only that range.

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crm {
namespace {

using ::crm::testing::CommandResult;
using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr char kAdminPassword[] = "load-admin-pass";
// The statement auth's GetUser runs (UserRepository's "users_get").
constexpr char kUsersGet[] =
    "SELECT id, name, email, role, active, version, (extract(epoch FROM created_at) * "
    "1000000)::int8, (extract(epoch FROM updated_at) * 1000000)::int8, password_hash FROM users "
    "WHERE id = $1";

class LoadToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster).release();
    auto dsn = cluster_->CreateServiceDatabase("crm_auth");
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = new std::string(*dsn);
    dir_ = new std::string(
        absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-load-e2e-", getpid()));
    std::filesystem::create_directories(*dir_);
    FILE* f = fopen((*dir_ + "/admin_password").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(kAdminPassword, f);
    fclose(f);
    // No service account secret: the outbox relay stays off, so no audit is
    // needed (sign-ins wait in the outbox).
    auto auth = ServiceProcess::Start(
        "auth", {"--dsn=" + *dsn_, "--admin_password_file=" + *dir_ + "/admin_password",
                 "--log_level=warning"});
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::move(*auth).release();
  }

  static void TearDownTestSuite() {
    delete auth_;  // stops it by pid
    auth_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
    if (dir_ != nullptr) {
      std::filesystem::remove_all(*dir_);
    }
    delete dir_;
    dir_ = nullptr;
    delete dsn_;
    dsn_ = nullptr;
  }

  void SetUp() override {
    if (auth_ == nullptr) {
      FAIL() << "the cluster or crm-auth did not start";
    }
  }

  // crm-load with the flags every case shares, then `args`.
  static CommandResult Load(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {absl::StrCat(CRM_BIN_DIR, "/crm-load"),
                                     "--target=" + auth_->address(),
                                     "--login_email=admin@crm.local",
                                     "--login_password_file=" + *dir_ + "/admin_password",
                                     "--method=crm.auth.v1.UserService/GetUser",
                                     R"(--data={"id": "{n}"})",
                                     "--warmup=200ms",
                                     "--duration=500ms",
                                     "--concurrency=4",
                                     "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = crm::testing::RunCommand(argv);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  static std::vector<std::string> PairFlags() {
    return {"--pair", "--rounds=3", "--dsn=" + *dsn_, std::string("--sql=") + kUsersGet,
            "--param={n}"};
  }

  // The one JSON line among stdout and stderr (diagnostics start "crm-load:").
  static json JsonLine(const std::string& output) {
    std::istringstream lines(output);
    std::string line;
    std::vector<json> found;
    while (std::getline(lines, line)) {
      if (absl::StartsWith(line, "{")) {
        found.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
      }
    }
    EXPECT_EQ(found.size(), 1u) << output;
    return found.empty() ? json() : found[0];
  }

  static PgCluster* cluster_;
  static ServiceProcess* auth_;
  static std::string* dsn_;
  static std::string* dir_;
};

PgCluster* LoadToolTest::cluster_ = nullptr;
ServiceProcess* LoadToolTest::auth_ = nullptr;
std::string* LoadToolTest::dsn_ = nullptr;
std::string* LoadToolTest::dir_ = nullptr;

TEST_F(LoadToolTest, PairModeOnGetUser) {
  std::vector<std::string> args = PairFlags();
  args.push_back("--n=range:1:1");  // the bootstrap admin
  const CommandResult result = Load(args);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json j = JsonLine(result.output);
  ASSERT_TRUE(j.is_object()) << result.output;
  EXPECT_EQ(j["mode"], "pair");
  EXPECT_EQ(j["method"], "/crm.auth.v1.UserService/GetUser");
  for (const char* run : {"service", "raw", "floor"}) {
    EXPECT_GT(j[run]["calls"].get<int64_t>(), 0) << run;
    EXPECT_GT(j[run]["rps"].get<double>(), 0) << run;
    EXPECT_EQ(j[run]["ok"], j[run]["calls"]) << run;
    EXPECT_TRUE(j[run]["errors"].empty()) << run << ": " << j[run]["errors"];
    EXPECT_LE(j[run]["p50_us"].get<double>(), j[run]["p99_us"].get<double>()) << run;
    EXPECT_LE(j[run]["p99_us"].get<double>(), j[run]["max_us"].get<double>()) << run;
  }
  const double floor = j["floor"]["rps"], raw = j["raw"]["rps"], service = j["service"]["rps"];
  const double composed = j["composed_limit_rps"];
  EXPECT_NEAR(composed, 1 / (1 / floor + 1 / raw), composed * 1e-3);
  EXPECT_LT(composed, std::min(floor, raw));
  EXPECT_NEAR(j["ratio"].get<double>(), service / composed, 2e-3 * service / composed + 1e-3);
  const double budget = j["floor"]["p50_us"].get<double>() + j["raw"]["p50_us"].get<double>();
  EXPECT_NEAR(j["budget_p50_us"].get<double>(), budget, 0.2);
  EXPECT_NEAR(j["overhead_p50_us"].get<double>(), j["service"]["p50_us"].get<double>() - budget,
              0.3);
  ASSERT_EQ(j["per_round"].size(), 3u);
  for (const json& round : j["per_round"]) {
    for (const char* run : {"service", "raw", "floor"}) {
      EXPECT_GT(round[run]["calls"].get<int64_t>(), 0) << run;
    }
  }
  EXPECT_THAT(result.output, Not(HasSubstr(kAdminPassword)));
}

TEST_F(LoadToolTest, PairModeSaysSoWhenTheServiceMostlyFails) {
  std::vector<std::string> args = PairFlags();
  args.push_back("--n=range:100000:100001");
  const CommandResult result = Load(args);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("ERROR: service /crm.auth.v1.UserService/GetUser"));
  const json j = JsonLine(result.output);
  ASSERT_TRUE(j.is_object()) << result.output;
  EXPECT_EQ(j["service"]["ok"], 0);
  EXPECT_EQ(j["service"]["errors"]["NOT_FOUND"], j["service"]["calls"]);
}

TEST_F(LoadToolTest, RangeInsideExistingIdsFindsThemAll) {
  const CommandResult result = Load({"--n=range:1:1"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json j = JsonLine(result.output);
  ASSERT_TRUE(j.is_object()) << result.output;
  EXPECT_GT(j["calls"].get<int64_t>(), 0);
  EXPECT_EQ(j["ok"], j["calls"]);
  EXPECT_TRUE(j["errors"].empty()) << j["errors"];
  EXPECT_EQ(j["preserialised"], true);
}

TEST_F(LoadToolTest, RangeOutsideExistingIdsIsAllNotFound) {
  // Allowed to fail: this run is meant to miss.
  const CommandResult result = Load({"--n=range:100000:100001", "--max_error_ratio=1"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json j = JsonLine(result.output);
  ASSERT_TRUE(j.is_object()) << result.output;
  EXPECT_GT(j["calls"].get<int64_t>(), 0);
  EXPECT_EQ(j["ok"], 0);
  ASSERT_EQ(j["errors"].size(), 1u) << j["errors"];
  EXPECT_EQ(j["errors"]["NOT_FOUND"], j["calls"]);
  // Without the allowance, the same run is an error.
  const CommandResult strict = Load({"--n=range:100000:100001"});
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_THAT(strict.output, HasSubstr("NOT_FOUND"));
}

TEST_F(LoadToolTest, CounterBuildsEachRequest) {
  // Ids 1, 2, 3, ...: only the first exists.
  const CommandResult result = Load({"--n=counter", "--max_error_ratio=1"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json j = JsonLine(result.output);
  ASSERT_TRUE(j.is_object()) << result.output;
  EXPECT_EQ(j["preserialised"], false);
  EXPECT_LE(j["ok"].get<int64_t>(), 1);
  EXPECT_GT(j["errors"]["NOT_FOUND"].get<int64_t>(), 0);
}

TEST_F(LoadToolTest, MutualTls) {
  auto pki = crm::testing::TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto dsn = cluster_->CreateServiceDatabase("crm_auth_tls");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = (*pki)->Read("ca.crt");
  ssl.pem_cert_chain = (*pki)->Read("client.crt");
  ssl.pem_private_key = (*pki)->Read("client.key");
  auto auth =
      ServiceProcess::Start("auth",
                            {"--dsn=" + *dsn, "--admin_password_file=" + *dir_ + "/admin_password",
                             "--log_level=warning", "--tls_cert_file=" + (*pki)->Path("server.crt"),
                             "--tls_key_file=" + (*pki)->Path("server.key"),
                             "--tls_client_ca_file=" + (*pki)->Path("ca.crt")},
                            {}, absl::Seconds(30), grpc::SslCredentials(ssl));
  ASSERT_TRUE(auth.ok()) << auth.status();
  const std::string target = "--target=" + (*auth)->address();
  const CommandResult tls =
      Load({target, "--n=range:1:1", "--tls_ca_file=" + (*pki)->Path("ca.crt"),
            "--tls_client_cert_file=" + (*pki)->Path("client.crt"),
            "--tls_client_key_file=" + (*pki)->Path("client.key")});
  ASSERT_EQ(tls.exit_code, 0) << tls.output;
  const json j = JsonLine(tls.output);
  ASSERT_TRUE(j.is_object()) << tls.output;
  EXPECT_GT(j["calls"].get<int64_t>(), 0);
  EXPECT_TRUE(j["errors"].empty()) << j["errors"];
  // Plaintext to a TLS port never connects.
  const CommandResult plain = Load({target, "--n=range:1:1", "--connect_timeout=1s"});
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  EXPECT_THAT(plain.output, HasSubstr("cannot connect"));
}

TEST_F(LoadToolTest, UnknownMethodFails) {
  const CommandResult method = Load({"--method=crm.auth.v1.UserService/NoSuchMethod"});
  EXPECT_EQ(method.exit_code, 2) << method.output;
  EXPECT_THAT(method.output, HasSubstr("unknown method 'NoSuchMethod'"));
  const CommandResult service = Load({"--method=crm.nope.v1.Nothing/Get"});
  EXPECT_EQ(service.exit_code, 2) << service.output;
  EXPECT_THAT(service.output, HasSubstr("unknown service 'crm.nope.v1.Nothing'"));
}

TEST_F(LoadToolTest, StreamingMethodFails) {
  const CommandResult result = Load({"--method=/crm.audit.v1.AuditService/WatchActivities"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("WatchActivities is streaming"));
}

TEST_F(LoadToolTest, MalformedJsonFails) {
  const CommandResult syntax = Load({R"(--data={"id": 1})", R"(--data={"id": )"});
  EXPECT_EQ(syntax.exit_code, 2) << syntax.output;
  EXPECT_THAT(syntax.output,
              HasSubstr("request --data #3 is not a valid crm.auth.v1.GetUserRequest"));
  const CommandResult field = Load({R"(--data={"idd": 1})"});
  EXPECT_EQ(field.exit_code, 2) << field.output;
  EXPECT_THAT(field.output, HasSubstr("idd"));
}

TEST_F(LoadToolTest, BadSqlFails) {
  const CommandResult result =
      Load({"--mode=sql", "--dsn=" + *dsn_, "--sql=SELEC id FROM users", "--param={n}"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--sql failed (SQLSTATE 42601)"));
}

}  // namespace
}  // namespace crm
