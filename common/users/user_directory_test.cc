// UserDirectory against the real crm-auth binary on a throwaway PostgreSQL
// cluster, signed in as a real SERVICE account: answers, every page, the ttl,
// shared fetches, and auth stopped or frozen.

#include "common/users/user_directory.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth/ed25519_key.h"
#include "common/auth/service_credentials.h"
#include "common/client/channel.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_calls.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

namespace crm::users {
namespace {

using ::crm::auth::Role;
using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::testing::Contains;
using ::testing::Not;

constexpr char kAdminPassword[] = "directory-admin-pass";
constexpr char kServiceSecret[] = "leads-service-account-secret-1";

void WriteFile(const std::string& path, const std::string& content) {
  absl::Status written = crm::testing::WriteTestFile(path, content);
  ASSERT_TRUE(written.ok()) << written;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  return crm::testing::CallContext(token, absl::Seconds(10));
}

std::vector<int64_t> Ids(const std::vector<DirectoryUser>& users) {
  std::vector<int64_t> ids;
  for (const DirectoryUser& user : users) {
    ids.push_back(user.id);
  }
  return ids;
}

// Freezes `pid` (SIGSTOP: no RST, no FIN, what a hung host looks like). The
// signal reaches its threads asynchronously, so this waits until every one
// has stopped; false if they have not within a few seconds.
bool Freeze(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) {
    return false;
  }
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  for (const absl::Time until = absl::Now() + absl::Seconds(5); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(1))) {
    bool stopped = true;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream stat(task.path() / "stat");
      const std::string line((std::istreambuf_iterator<char>(stat)),
                             std::istreambuf_iterator<char>());
      // "<tid> (<name>) <state> ...": the name may hold spaces and parentheses.
      const size_t name_end = line.rfind(')');
      if (name_end == std::string::npos || name_end + 2 >= line.size() ||
          line[name_end + 2] != 'T') {
        stopped = false;
        break;
      }
    }
    if (stopped) {
      return true;
    }
  }
  return false;
}

// One cluster and one auth process for the suite (migrations and start-up
// cost seconds); each test creates the users it needs under fresh emails.
class UserDirectoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster).release();
    auto dsn = cluster_->CreateServiceDatabase("crm_auth");
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = new std::string(*dsn);
    dir_ = new std::string(absl::StrCat(std::filesystem::temp_directory_path().string(),
                                        "/crm-user-directory-", getpid()));
    std::filesystem::create_directories(*dir_ + "/accounts");
    WriteFile(*dir_ + "/admin_password", kAdminPassword);
    WriteFile(*dir_ + "/accounts/leads.secret", kServiceSecret);
    auto key = auth::Ed25519PrivateKey::Generate();
    ASSERT_TRUE(key.ok());
    // One key across restarts, so tokens issued before a restart stay valid.
    WriteFile(*dir_ + "/signing.pem", key->ToPem());
    auth_port_ = crm::testing::FreePort();
  }

  static void TearDownTestSuite() {
    auth_.reset();
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
    ASSERT_NE(cluster_, nullptr);
    if (auth_ == nullptr) {
      StartAuth();
    }
    ASSERT_NE(auth_, nullptr);
    admin_token_ = Login("admin@crm.local", kAdminPassword, &admin_id_);
    ASSERT_FALSE(admin_token_.empty());
  }

  static void StartAuth() {
    auto auth = ServiceProcess::StartOnPort(
        auth_port_, "auth",
        {"--dsn=" + *dsn_, "--admin_password_file=" + *dir_ + "/admin_password",
         "--signing_key_files=" + *dir_ + "/signing.pem",
         "--service_accounts_dir=" + *dir_ + "/accounts"});
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::move(*auth);
  }

  static std::string Address() { return absl::StrCat("127.0.0.1:", auth_port_); }

  // A directory over a channel and service credentials of its own, as a service has.
  std::unique_ptr<UserDirectory> Directory(absl::Duration ttl,
                                           absl::Duration call_timeout = absl::Seconds(2),
                                           int32_t page_size = 1000) {
    std::shared_ptr<grpc::Channel> channel = client::CreateServiceChannel(Address(), {});
    credentials_.push_back(std::make_unique<auth::ServiceCredentials>(
        channel, auth::ServiceAccountEmail("leads"), kServiceSecret));
    auth::ServiceCredentials* credentials = credentials_.back().get();
    return std::make_unique<UserDirectory>(UserDirectoryOptions{
        .auth_channel = channel,
        .authorize =
            [credentials](grpc::ClientContext& context) { return credentials->Attach(context); },
        .ttl = ttl,
        .call_timeout = call_timeout,
        .page_size = page_size});
  }

  std::string Login(const std::string& email, const std::string& password, int64_t* id) {
    absl::StatusOr<auth::v1::LoginResponse> session =
        crm::testing::SignIn(auth_->channel(), email, password);
    EXPECT_TRUE(session.ok()) << session.status();
    *id = session.ok() ? session->user().id() : 0;
    return session.ok() ? session->access_token() : "";
  }

  // Creates a user through the real API; its id (0 on failure).
  int64_t CreateUser(auth::v1::Role role, const std::string& name) {
    static int counter = 0;
    auth::v1::CreateUserRequest request;
    request.mutable_user()->set_name(name);
    request.mutable_user()->set_email(absl::StrCat("user", ++counter, "@directory.test"));
    request.mutable_user()->set_role(role);
    request.set_password("user-password-1");
    auth::v1::CreateUserResponse response;
    grpc::Status status = auth::v1::UserService::NewStub(auth_->channel())
                              ->CreateUser(Context(admin_token_).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() ? response.user().id() : 0;
  }

  void Deactivate(int64_t id) {
    auth::v1::DeactivateUserRequest request;
    request.set_id(id);
    auth::v1::DeactivateUserResponse response;
    grpc::Status status = auth::v1::UserService::NewStub(auth_->channel())
                              ->DeactivateUser(Context(admin_token_).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Active agents as the admin sees them, one big page: what ActiveUsers must match.
  std::vector<int64_t> ActiveAgentIds() {
    auth::v1::ListUsersRequest request;
    request.set_page_size(1000);
    request.set_role(auth::v1::ROLE_AGENT);
    request.set_active(true);
    auth::v1::ListUsersResponse response;
    grpc::Status status = auth::v1::UserService::NewStub(auth_->channel())
                              ->ListUsers(Context(admin_token_).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.next_page_token().empty());
    std::vector<int64_t> ids;
    for (const auth::v1::User& user : response.users()) {
      ids.push_back(user.id());
    }
    return ids;
  }

  // GetUser calls auth has logged so far (one JSON line per RPC).
  static int GetUserCalls() {
    int calls = 0;
    for (absl::string_view line : absl::StrSplit(auth_->Log(), '\n')) {
      if (absl::StrContains(line, "\"method\":\"/crm.auth.v1.UserService/GetUser\"")) {
        ++calls;
      }
    }
    return calls;
  }

  static PgCluster* cluster_;
  static std::string* dsn_;
  static std::string* dir_;
  static int auth_port_;
  static std::unique_ptr<ServiceProcess> auth_;
  std::string admin_token_;
  int64_t admin_id_ = 0;
  std::vector<std::unique_ptr<auth::ServiceCredentials>> credentials_;
};

PgCluster* UserDirectoryTest::cluster_ = nullptr;
std::string* UserDirectoryTest::dsn_ = nullptr;
std::string* UserDirectoryTest::dir_ = nullptr;
int UserDirectoryTest::auth_port_ = 0;
std::unique_ptr<ServiceProcess> UserDirectoryTest::auth_;

TEST_F(UserDirectoryTest, GetAnswersAgentsAdminsAndNotFound) {
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Ana Agent");
  ASSERT_NE(agent, 0);
  auto directory = Directory(absl::Seconds(5));

  absl::StatusOr<DirectoryUser> got = directory->Get(agent);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, agent);
  EXPECT_EQ(got->name, "Ana Agent");
  EXPECT_TRUE(absl::EndsWith(got->email, "@directory.test")) << got->email;
  EXPECT_EQ(got->role, Role::kAgent);
  EXPECT_TRUE(got->active);

  absl::StatusOr<DirectoryUser> admin = directory->Get(admin_id_);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->email, "admin@crm.local");
  EXPECT_TRUE(admin->active);

  absl::StatusOr<DirectoryUser> missing = directory->Get(987654321);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  // 0 would be "the caller" to auth, i.e. the service account itself.
  EXPECT_EQ(directory->Get(0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(directory->Get(-3).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(UserDirectoryTest, ActiveUsersReadsEveryPage) {
  std::vector<int64_t> agents;
  for (int i = 0; i < 5; ++i) {
    agents.push_back(CreateUser(auth::v1::ROLE_AGENT, absl::StrCat("Paged Agent ", i)));
    ASSERT_NE(agents.back(), 0);
  }
  Deactivate(agents[2]);
  const int64_t client_user = CreateUser(auth::v1::ROLE_CLIENT, "Carla Client");
  ASSERT_NE(client_user, 0);
  // Pages of two: at least three pages for the agents created here alone.
  auto directory = Directory(absl::Seconds(5), absl::Seconds(2), /*page_size=*/2);

  absl::StatusOr<std::vector<DirectoryUser>> active = directory->ActiveUsers(Role::kAgent);
  ASSERT_TRUE(active.ok()) << active.status();
  const std::vector<int64_t> ids = Ids(*active);
  EXPECT_EQ(ids, ActiveAgentIds());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  for (int i : {0, 1, 3, 4}) {
    EXPECT_THAT(ids, Contains(agents[i]));
  }
  EXPECT_THAT(ids, Not(Contains(agents[2])));
  EXPECT_THAT(ids, Not(Contains(client_user)));
  EXPECT_THAT(ids, Not(Contains(admin_id_)));
  for (const DirectoryUser& user : *active) {
    EXPECT_EQ(user.role, Role::kAgent);
    EXPECT_TRUE(user.active);
    EXPECT_FALSE(user.name.empty());
  }

  absl::StatusOr<std::vector<DirectoryUser>> clients = directory->ActiveUsers(Role::kClient);
  ASSERT_TRUE(clients.ok()) << clients.status();
  EXPECT_THAT(Ids(*clients), Contains(client_user));
  EXPECT_THAT(Ids(*clients), Not(Contains(agents[0])));
}

TEST_F(UserDirectoryTest, DeactivationIsSeenAfterTheTtlAndNotBefore) {
  const absl::Duration ttl = absl::Milliseconds(300);
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Soon Gone");
  ASSERT_NE(agent, 0);
  auto directory = Directory(ttl);

  const absl::Time filling = absl::Now();
  ASSERT_TRUE(directory->Get(agent).ok());
  ASSERT_TRUE(directory->ActiveUsers(Role::kAgent).ok());
  const absl::Time filled = absl::Now();
  Deactivate(agent);

  absl::StatusOr<DirectoryUser> cached = directory->Get(agent);
  absl::StatusOr<std::vector<DirectoryUser>> cached_active = directory->ActiveUsers(Role::kAgent);
  ASSERT_TRUE(cached.ok()) << cached.status();
  ASSERT_TRUE(cached_active.ok()) << cached_active.status();
  // Both answers were stored after `filling`, so they are reused until at least filling + ttl;
  // on a machine too slow to get here by then there is nothing to check.
  if (absl::Now() - filling < ttl) {
    EXPECT_TRUE(cached->active);
    EXPECT_THAT(Ids(*cached_active), Contains(agent));
  } else {
    ADD_FAILURE() << "took " << (absl::Now() - filling) << " to read back; ttl " << ttl;
  }

  // Both were stored before `filled`: past filled + ttl they must be fetched again.
  absl::SleepFor(filled + ttl + absl::Milliseconds(20) - absl::Now());
  absl::StatusOr<DirectoryUser> fresh = directory->Get(agent);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(fresh->active);
  EXPECT_EQ(fresh->role, Role::kAgent);
  absl::StatusOr<std::vector<DirectoryUser>> fresh_active = directory->ActiveUsers(Role::kAgent);
  ASSERT_TRUE(fresh_active.ok()) << fresh_active.status();
  EXPECT_THAT(Ids(*fresh_active), Not(Contains(agent)));
}

TEST_F(UserDirectoryTest, InvalidateForgetsAtOnce) {
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Forgotten");
  ASSERT_NE(agent, 0);
  auto directory = Directory(absl::Minutes(10));
  ASSERT_TRUE(directory->Get(agent).ok());
  ASSERT_TRUE(directory->ActiveUsers(Role::kAgent).ok());
  Deactivate(agent);
  ASSERT_TRUE(directory->Get(agent)->active);  // cached for ten minutes

  directory->Invalidate();
  absl::StatusOr<DirectoryUser> fresh = directory->Get(agent);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(fresh->active);
  absl::StatusOr<std::vector<DirectoryUser>> active = directory->ActiveUsers(Role::kAgent);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_THAT(Ids(*active), Not(Contains(agent)));
}

TEST_F(UserDirectoryTest, ConcurrentMissesShareOneCall) {
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Popular");
  ASSERT_NE(agent, 0);
  auto directory = Directory(absl::Seconds(30));
  ASSERT_TRUE(directory->Get(admin_id_).ok());  // signed in: the misses below only call GetUser
  absl::SleepFor(absl::Milliseconds(100));      // auth's log written
  const int before = GetUserCalls();
  ASSERT_GT(before, 0) << "auth's log does not show its GetUser calls";

  std::atomic<bool> go{false};
  std::atomic<int> answers{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) {
      }
      absl::StatusOr<DirectoryUser> user = directory->Get(agent);
      if (user.ok() && user->id == agent) {
        answers.fetch_add(1);
      }
    });
  }
  go.store(true);
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(answers.load(), 8);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(GetUserCalls() - before, 1);
}

TEST_F(UserDirectoryTest, ManyThreadsWithInvalidationsAllAnswerRight) {
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Busy");
  ASSERT_NE(agent, 0);
  auto directory = Directory(absl::Milliseconds(5));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (t == 0 && i % 10 == 0) {
          directory->Invalidate();
        }
        if ((t + i) % 3 == 0) {
          absl::StatusOr<std::vector<DirectoryUser>> active = directory->ActiveUsers(Role::kAgent);
          if (!active.ok()) {
            wrong.fetch_add(1);
            continue;
          }
          const std::vector<int64_t> ids = Ids(*active);
          if (std::find(ids.begin(), ids.end(), agent) == ids.end()) {
            wrong.fetch_add(1);
          }
        } else {
          absl::StatusOr<DirectoryUser> user = directory->Get((t + i) % 2 == 0 ? agent : admin_id_);
          if (!user.ok()) {
            wrong.fetch_add(1);
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(UserDirectoryTest, AuthStoppedIsUnavailableQuicklyWhileCachedAnswersLast) {
  const absl::Duration call_timeout = absl::Seconds(2);
  const absl::Duration ttl = absl::Seconds(3);
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Cached");
  const int64_t other = CreateUser(auth::v1::ROLE_AGENT, "Uncached");
  ASSERT_NE(agent, 0);
  ASSERT_NE(other, 0);
  auto directory = Directory(ttl, call_timeout);
  const absl::Time filling = absl::Now();
  ASSERT_TRUE(directory->Get(agent).ok());
  ASSERT_TRUE(directory->ActiveUsers(Role::kAgent).ok());
  const absl::Time filled = absl::Now();

  EXPECT_EQ(auth_->Stop(SIGTERM), 0);
  auth_.reset();

  absl::Time start = absl::Now();
  absl::StatusOr<DirectoryUser> down = directory->Get(other);
  EXPECT_LT(absl::Now() - start, call_timeout + absl::Seconds(1));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_EQ(down.status().message(), "auth service unavailable");
  start = absl::Now();
  absl::StatusOr<std::vector<DirectoryUser>> clients = directory->ActiveUsers(Role::kClient);
  EXPECT_LT(absl::Now() - start, call_timeout + absl::Seconds(1));
  EXPECT_EQ(clients.status().code(), absl::StatusCode::kUnavailable) << clients.status();

  // Still within the ttl of what was read before: served from the cache.
  absl::StatusOr<DirectoryUser> cached = directory->Get(agent);
  absl::StatusOr<std::vector<DirectoryUser>> cached_active = directory->ActiveUsers(Role::kAgent);
  ASSERT_LT(absl::Now() - filling, ttl) << "auth took too long to stop for this test";
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->id, agent);
  ASSERT_TRUE(cached_active.ok()) << cached_active.status();
  EXPECT_THAT(Ids(*cached_active), Contains(agent));

  // Past it, nothing stale is served.
  absl::SleepFor(filled + ttl + absl::Milliseconds(20) - absl::Now());
  EXPECT_EQ(directory->Get(agent).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(directory->ActiveUsers(Role::kAgent).status().code(), absl::StatusCode::kUnavailable);

  // Errors were not cached: with auth back, the same directory answers again.
  StartAuth();
  absl::StatusOr<DirectoryUser> back = directory->Get(other);
  for (const absl::Time until = absl::Now() + absl::Seconds(30); !back.ok() && absl::Now() < until;
       back = directory->Get(other)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, other);
}

TEST_F(UserDirectoryTest, FrozenAuthIsUnavailableWithinTheCallTimeout) {
  const absl::Duration call_timeout = absl::Milliseconds(500);
  const int64_t agent = CreateUser(auth::v1::ROLE_AGENT, "Frozen Out");
  ASSERT_NE(agent, 0);
  auto directory = Directory(absl::Seconds(5), call_timeout);
  ASSERT_TRUE(directory->Get(admin_id_).ok());  // signed in before auth goes silent

  const bool frozen = Freeze(auth_->pid());
  const absl::Time start = absl::Now();
  absl::StatusOr<DirectoryUser> got = directory->Get(agent);
  const absl::Duration took = absl::Now() - start;
  absl::StatusOr<std::vector<DirectoryUser>> active = directory->ActiveUsers(Role::kAgent);
  const absl::Duration took_list = absl::Now() - start - took;
  ASSERT_EQ(kill(auth_->pid(), SIGCONT), 0);
  ASSERT_TRUE(frozen) << "auth's threads did not all stop";

  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_EQ(got.status().message(), "auth service unavailable");
  EXPECT_LT(took, call_timeout + absl::Seconds(1));
  EXPECT_EQ(active.status().code(), absl::StatusCode::kUnavailable) << active.status();
  EXPECT_LT(took_list, call_timeout + absl::Seconds(1));

  absl::StatusOr<DirectoryUser> thawed = directory->Get(agent);
  ASSERT_TRUE(thawed.ok()) << thawed.status();
  EXPECT_EQ(thawed->id, agent);
}

}  // namespace
}  // namespace crm::users
