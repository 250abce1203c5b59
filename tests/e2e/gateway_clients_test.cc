// The gRPC-web gateway through clients nobody here wrote: connect-node's
// gRPC-web transport (compressing its requests too), gRPC-web text mode, jose
// against the JWKS, a real Chromium (fetch streaming and the grpc-web
// runtime) and buf curl. The clients are Node scripts in tests/gateway/ (one
// TEST each); this driver starts what they talk to: a throwaway cluster, the
// five real services (notifications with a per-user cap of 2 live streams and
// a keep-alive each second) and crm-gateway in front of them, then runs each
// script with its environment and fails with the script's output.
//
// Needs `tools/crm deps` (npm ci in tests/gateway and tools, Debian's
// chromium); a test whose client is missing is skipped and says so.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/files/read_file.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::crm::testing::TestAuth;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kScriptsDir[] = CRM_GATEWAY_TESTS_DIR;
constexpr char kDescriptorSet[] = CRM_GATEWAY_DESCRIPTOR_SET;
constexpr char kChromium[] = "/usr/bin/chromium";
constexpr int kMaxBodyBytes = 64 * 1024;
// What WatchNotifications' per-user cap is set to: disconnect_test.js opens
// this many streams and expects the next to be refused.
constexpr int kMaxWatchStreamsPerUser = 2;

// GET `path` from 127.0.0.1:`port` over a fresh connection; the HTTP status.
absl::StatusOr<int> HttpGetStatus(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return absl::InternalError("socket failed");
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect 127.0.0.1:", port, " failed"));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError("send failed");
  }
  std::string answer;
  char buffer[512];
  while (answer.find("\r\n") == std::string::npos) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat("no status line: '", answer, "'"));
    }
    answer.append(buffer, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  const std::vector<std::string> words = absl::StrSplit(answer.substr(0, answer.find("\r\n")), ' ');
  int status = 0;
  if (words.size() < 2 || !absl::SimpleAtoi(words[1], &status)) {
    return absl::InternalError(absl::StrCat("bad status line: '", answer, "'"));
  }
  return status;
}

// crm-gateway as a process: it serves HTTP, not gRPC health, so it is
// spawned directly and probed on GET /healthz.
class GatewayProcess {
 public:
  // Starts build/bin/crm-gateway with `args` plus --listen on a free port.
  static absl::StatusOr<std::unique_ptr<GatewayProcess>> Start(const std::string& name,
                                                               std::vector<std::string> args) {
    const int port = crm::testing::FreePort();
    const std::string log_path = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                              "/crm-gateway-clients-", getpid(), "-", name, ".log");
    std::filesystem::remove(log_path);
    args.insert(args.begin(), {absl::StrCat(CRM_BIN_DIR, "/crm-gateway"),
                               absl::StrCat("--listen=127.0.0.1:", port)});
    absl::StatusOr<pid_t> pid = crm::testing::SpawnProcess(args, {}, log_path);
    if (!pid.ok()) {
      return pid.status();
    }
    return std::unique_ptr<GatewayProcess>(new GatewayProcess(*pid, port, log_path));
  }
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;
  ~GatewayProcess() {
    if (pid_ > 0) {
      crm::testing::StopProcess(pid_, SIGKILL, absl::Seconds(5));
    }
    std::filesystem::remove(log_path_);
  }

  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  std::string Log() const { return ReadFileToString(log_path_).value_or(""); }

  // Waits until GET /healthz answers `want` (0: any HTTP answer at all).
  absl::Status WaitHealthz(int want, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<int> status;
    while (absl::Now() < deadline) {
      status = HttpGetStatus(port_, "/healthz");
      if (status.ok() && (want == 0 || *status == want)) {
        return absl::OkStatus();
      }
      if (kill(pid_, 0) != 0) {
        return absl::InternalError(absl::StrCat("crm-gateway exited; its log:\n", Log()));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::DeadlineExceededError(absl::StrCat(
        "GET /healthz: ", status.ok() ? absl::StrCat("HTTP ", *status) : status.status().ToString(),
        " after ", absl::FormatDuration(timeout), ", want ", want, "; its log:\n", Log()));
  }

  // SIGTERM (drain), then the exit code.
  int Stop() {
    const int code = crm::testing::StopProcess(pid_, SIGTERM, absl::Seconds(20));
    pid_ = -1;
    return code;
  }

 private:
  GatewayProcess(pid_t pid, int port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}

  pid_t pid_;
  const int port_;
  const std::string log_path_;
};

std::string Tail(const std::string& log, size_t bytes = 6000) {
  return log.substr(log.size() > bytes ? log.size() - bytes : 0);
}

class GatewayClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(absl::StrCat(kScriptsDir, "/node_modules/.package-lock.json"))) {
      skip_reason_ =
          absl::StrCat("the Node clients are not installed in ", kScriptsDir,
                       "/node_modules: run tools/crm deps (or npm ci --prefix tests/gateway)");
      return;
    }
    setup_error_ = StartSuite();
  }

  static std::string StartSuite() {
    auto cluster = PgCluster::Create();
    if (!cluster.ok()) {
      return cluster.status().ToString();
    }
    cluster_ = std::move(*cluster).release();
    std::map<std::string, std::string> dsns;
    for (const char* name : {"auth", "audit", "leads", "properties", "notifications"}) {
      auto dsn = cluster_->CreateServiceDatabase(absl::StrCat("crm_", name));
      if (!dsn.ok()) {
        return dsn.status().ToString();
      }
      dsns[name] = *dsn;
    }
    dir_ = absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-gateway-clients-",
                        getpid());
    const int audit_port = crm::testing::FreePort();
    const std::string audit_flag = absl::StrCat("--audit_address=127.0.0.1:", audit_port);
    // Auth trusts the gateway's x-forwarded-for, as tools/crm runs it.
    auto auth = TestAuth::Start(dsns["auth"], dir_,
                                {{"auth", "auth-account-secret"},
                                 {"leads", "leads-account-secret"},
                                 {"properties", "properties-account-secret"},
                                 {"notifications", "notifications-account-secret"}},
                                {"--service_account_secret_file=" + dir_ + "/accounts/auth.secret",
                                 audit_flag, "--trusted_proxies=127.0.0.1"});
    if (!auth.ok()) {
      return auth.status().ToString();
    }
    auth_ = std::move(*auth).release();
    const std::string auth_flag = "--auth_address=" + auth_->process().address();
    const auto start = [&](const std::string& name, std::vector<std::string> args,
                           int port) -> std::string {
      args.insert(args.begin(), {"--dsn=" + dsns[name], auth_flag});
      auto process = port == 0 ? ServiceProcess::Start(name, args)
                               : ServiceProcess::StartOnPort(port, name, args);
      if (!process.ok()) {
        return absl::StrCat(name, ": ", process.status().ToString());
      }
      services_[name] = std::move(*process).release();
      return "";
    };
    const auto secret = [](const std::string& name) {
      return "--service_account_secret_file=" + auth_->ServiceSecretFile(name);
    };
    if (std::string error = start("audit", {}, audit_port); !error.empty()) {
      return error;
    }
    if (std::string error = start("leads", {secret("leads"), audit_flag}, 0); !error.empty()) {
      return error;
    }
    if (std::string error = start("properties", {secret("properties"), audit_flag}, 0);
        !error.empty()) {
      return error;
    }
    // Keep-alives each quiet second (streams show they are live at once) and
    // a per-user cap small enough to reach.
    if (std::string error =
            start("notifications",
                  {secret("notifications"), audit_flag, "--directory_cache_seconds=1",
                   "--watch_heartbeat_seconds=1",
                   absl::StrCat("--max_watch_streams_per_user=", kMaxWatchStreamsPerUser)},
                  0);
        !error.empty()) {
      return error;
    }
    allowed_origin_port_ = crm::testing::FreePort();
    auto gateway = GatewayProcess::Start("main", GatewayArgs(services_["leads"]->address()));
    if (!gateway.ok()) {
      return gateway.status().ToString();
    }
    gateway_ = std::move(*gateway).release();
    if (absl::Status ready = gateway_->WaitHealthz(200); !ready.ok()) {
      return ready.ToString();
    }
    return "";
  }

  static std::vector<std::string> GatewayArgs(const std::string& leads_address) {
    return {"--auth_address=" + auth_->process().address(),
            "--leads_address=" + leads_address,
            "--properties_address=" + services_["properties"]->address(),
            "--notifications_address=" + services_["notifications"]->address(),
            "--audit_address=" + services_["audit"]->address(),
            "--cors_allowed_origins=" + AllowedOrigin() + ",http://localhost:5173",
            absl::StrCat("--max_body_bytes=", kMaxBodyBytes)};
  }

  static std::string AllowedOrigin() {
    return absl::StrCat("http://127.0.0.1:", allowed_origin_port_);
  }

  static void TearDownTestSuite() {
    if (gateway_ != nullptr) {
      // SIGTERM drains and exits 0; every line it logged is JSON, and no
      // password reached the log.
      EXPECT_EQ(gateway_->Stop(), 0) << Tail(gateway_->Log());
      const std::string log = gateway_->Log();
      for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
        EXPECT_TRUE(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false).is_object())
            << "not a JSON line in the gateway's log: " << line;
      }
      EXPECT_THAT(log, Not(HasSubstr(TestAuth::kAdminPassword)));
      EXPECT_THAT(log, Not(HasSubstr("Bearer ")));
      delete gateway_;
      gateway_ = nullptr;
    }
    for (auto& [name, process] : services_) {
      delete process;
    }
    services_.clear();
    delete auth_;
    auth_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  void SetUp() override {
    if (!skip_reason_.empty()) {
      GTEST_SKIP() << skip_reason_;
    }
    ASSERT_EQ(setup_error_, "") << "starting the services and the gateway failed";
  }

  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) {
      std::cerr << "---- the gateway's log (its end)\n" << Tail(gateway_->Log()) << "\n";
      if (services_.count("notifications")) {
        std::cerr << "---- notifications' log (its end)\n"
                  << Tail(services_["notifications"]->Log(), 3000) << "\n";
      }
    }
  }

  // Runs tests/gateway/`script` with node and the suite's environment plus
  // `extra_env`; fails with its output unless it exits 0.
  void RunScript(const std::string& script, const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> env = {
        "GATEWAY_URL=" + gateway_->url(),
        std::string("DESCRIPTOR_SET=") + kDescriptorSet,
        std::string("ADMIN_EMAIL=") + TestAuth::kAdminEmail,
        "ADMIN_PASSWORD_FILE=" + dir_ + "/admin_password",
        absl::StrCat("ALLOWED_ORIGIN_PORT=", allowed_origin_port_),
        "ALLOWED_ORIGIN=" + AllowedOrigin(),
        absl::StrCat("MAX_BODY_BYTES=", kMaxBodyBytes),
        absl::StrCat("MAX_WATCH_STREAMS_PER_USER=", kMaxWatchStreamsPerUser),
    };
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    // coreutils' timeout as a backstop for each script's own watchdog; its
    // SIGTERM lets playwright close Chromium.
    auto result = crm::testing::RunCommand(
        {"timeout", "--kill-after=10", "300", "node", absl::StrCat(kScriptsDir, "/", script)}, env);
    ASSERT_TRUE(result.ok()) << result.status();
    std::cout << "---- node " << script << "\n" << result->output << std::flush;
    EXPECT_EQ(result->exit_code, 0) << "node " << script << " failed:\n" << result->output;
  }

  static inline std::string skip_reason_;
  static inline std::string setup_error_;
  static inline PgCluster* cluster_ = nullptr;
  static inline TestAuth* auth_ = nullptr;
  static inline std::map<std::string, ServiceProcess*> services_;
  static inline GatewayProcess* gateway_ = nullptr;
  static inline std::string dir_;
  static inline int allowed_origin_port_ = 0;
};

TEST_F(GatewayClientsTest, ConnectNodeGrpcWebOverHttp1) { RunScript("connect_node_test.js"); }

TEST_F(GatewayClientsTest, GrpcWebTextMode) { RunScript("grpc_web_text_test.js"); }

TEST_F(GatewayClientsTest, CompressedRequestsPassThrough) { RunScript("compression_test.js"); }

TEST_F(GatewayClientsTest, JoseVerifiesTokensWithTheJwks) { RunScript("jwks_test.js"); }

TEST_F(GatewayClientsTest, ChromiumThroughCors) {
  if (!std::filesystem::exists(kChromium)) {
    GTEST_SKIP() << kChromium << " is not installed: run tools/crm deps (apt package chromium)";
  }
  RunScript("browser_test.js", {absl::StrCat("CHROMIUM=", kChromium)});
}

TEST_F(GatewayClientsTest, ClientDisconnectCancelsTheBackendCall) {
  RunScript("disconnect_test.js");
  // The backend logged the closed streams as cancelled (the logging
  // interceptor's line carries the x-request-id the script sent).
  const std::string log = services_["notifications"]->Log();
  int cancelled = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "gateway-disconnect-first-") &&
        absl::StrContains(line, "\"code\":\"CANCELLED\"")) {
      ++cancelled;
    }
  }
  EXPECT_EQ(cancelled, kMaxWatchStreamsPerUser) << Tail(log, 4000);
}

TEST_F(GatewayClientsTest, FailuresAreGrpcWebAnswers) {
  // A second gateway whose leads address is a port nobody serves.
  auto leads_down = GatewayProcess::Start(
      "leads-down", GatewayArgs(absl::StrCat("127.0.0.1:", crm::testing::FreePort())));
  ASSERT_TRUE(leads_down.ok()) << leads_down.status();
  ASSERT_TRUE((*leads_down)->WaitHealthz(503).ok()) << (*leads_down)->Log();
  RunScript("http_surface_test.js", {"LEADS_DOWN_GATEWAY_URL=" + (*leads_down)->url()});
  EXPECT_EQ((*leads_down)->Stop(), 0) << Tail((*leads_down)->Log());
}

TEST_F(GatewayClientsTest, BufCurlGrpcWeb) {
  if (!std::filesystem::exists(CRM_BUF_BIN)) {
    GTEST_SKIP() << "buf is not installed: run tools/crm deps (npm ci --prefix tools)";
  }
  RunScript("buf_curl_test.js",
            {std::string("BUF=") + CRM_BUF_BIN, std::string("PROTOS_DIR=") + CRM_PROTOS_DIR});
}

}  // namespace
}  // namespace crm
