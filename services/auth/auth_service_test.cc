// The auth service served in-process over real gRPC, on a throwaway
// PostgreSQL cluster: sign-in, tokens, throttling and the permission table.

#include "services/auth/auth_service.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth/jwt.h"
#include "common/auth/service_credentials.h"
#include "common/db/migrations.h"
#include "common/idempotency/request_results.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/retention/janitor.h"
#include "common/server/runner.h"
#include "common/testing/pg_fixture.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/auth/bootstrap.h"
#include "services/auth/embedded_migrations.h"
#include "services/auth/user_service.h"

namespace crm::auth {
namespace {

using crm::auth::v1::AuthService;
using crm::auth::v1::ChangePasswordRequest;
using crm::auth::v1::ChangePasswordResponse;
using crm::auth::v1::CreateUserRequest;
using crm::auth::v1::CreateUserResponse;
using crm::auth::v1::DeactivateUserRequest;
using crm::auth::v1::DeactivateUserResponse;
using crm::auth::v1::GetUserRequest;
using crm::auth::v1::GetUserResponse;
using crm::auth::v1::ListPublicKeysRequest;
using crm::auth::v1::ListPublicKeysResponse;
using crm::auth::v1::ListUsersRequest;
using crm::auth::v1::ListUsersResponse;
using crm::auth::v1::LoginRequest;
using crm::auth::v1::LoginResponse;
using crm::auth::v1::LogoutRequest;
using crm::auth::v1::LogoutResponse;
using crm::auth::v1::RefreshTokenRequest;
using crm::auth::v1::RefreshTokenResponse;
using crm::auth::v1::ROLE_ADMIN;
using crm::auth::v1::ROLE_AGENT;
using crm::auth::v1::ROLE_CLIENT;
using crm::auth::v1::ROLE_SERVICE;
using crm::auth::v1::ROLE_UNSPECIFIED;
using crm::auth::v1::UpdateUserRequest;
using crm::auth::v1::UpdateUserResponse;
using crm::auth::v1::User;
using crm::auth::v1::UserService;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminEmail[] = "admin@crm.local";
constexpr char kAdminPassword[] = "admin-password-1";

// A key source whose keys a test can change, for rotation. The
// Authenticator fetches on a thread of its own, hence the lock.
class SwappableKeySource final : public KeySource {
 public:
  explicit SwappableKeySource(std::shared_ptr<const TokenIssuer> issuer)
      : issuer_(std::move(issuer)) {}
  absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() override {
    absl::MutexLock lock(&mu_);
    return issuer_->PublicKeys();
  }
  void Set(std::shared_ptr<const TokenIssuer> issuer) {
    absl::MutexLock lock(&mu_);
    issuer_ = std::move(issuer);
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<const TokenIssuer> issuer_ ABSL_GUARDED_BY(mu_);
};

class AuthServiceTest : public crm::testing::PgTest {
 protected:
  virtual bool UsePipelinedReader() const { return true; }

  void SetUp() override {
    PgTest::SetUp();
    // What the kit composes in the binary.
    std::vector<db::Migration> migrations = outbox::WithOutbox(Migrations());
    std::vector<db::PreparedStatement> statements =
        WithThrottleStatements(UserRepository::Statements());
    idempotency::AddTo(migrations, statements);
    ASSERT_TRUE(db::ApplyMigrations(dsn_, migrations).ok());
    pool_ = std::make_unique<db::Pool>(
        db::PoolOptions{.dsn = dsn_, .size = 4, .statements = std::move(statements)});
    // GetUser runs on the pipelined reader, as in the binary; a subclass
    // tests the pool's path.
    if (UsePipelinedReader()) {
      reader_ = std::make_unique<db::PipelinedReader>(db::PipelinedReaderOptions{
          .dsn = dsn_, .connections = 2, .statements = UserRepository::Statements()});
    }
    users_ = std::make_unique<UserRepository>(pool_.get(), reader_.get());
    throttle_ = std::make_unique<SignInThrottle>(
        pool_.get(), SignInThrottleOptions{.account = ThrottlePolicy{.max_failures = 5},
                                           .source = ThrottlePolicy{.max_failures = 100}});
    // Cheaper parameters keep the suite fast; the production ones are tested
    // in password_hasher_test.
    hasher_ = std::make_unique<PasswordHasher>(PasswordHasherOptions{
        .memory_kib = 1024, .iterations = 1, .max_concurrent = 4, .max_queued = 16});
    issuer_ =
        std::make_shared<const TokenIssuer>(std::vector<Ed25519PrivateKey>{key1_}, TokenOptions{});
    auto keys = std::make_unique<SwappableKeySource>(issuer_);
    keys_ = keys.get();
    authenticator_ = std::make_unique<Authenticator>(
        std::move(keys), AuthenticatorOptions{.min_refetch_interval = absl::ZeroDuration(),
                                              .key_ttl = absl::Milliseconds(10)});
    page_tokens_ = std::make_unique<pagination::PageTokenCodec>("0123456789abcdef0123456789abcdef");
    executor_ = std::make_unique<server::BlockingExecutor>(4, 64);

    const std::string password_file = absl::StrCat(::testing::TempDir(), "/admin-", db_name_);
    FILE* f = fopen(password_file.c_str(), "w");
    fputs(kAdminPassword, f);
    fclose(f);
    ASSERT_TRUE(EnsureBootstrapAdmin(*users_, *hasher_, kAdminEmail, password_file).ok());

    RebuildAuthService();
    user_service_ =
        std::make_unique<UserServiceImpl>(UserServiceDeps{.users = users_.get(),
                                                          .hasher = hasher_.get(),
                                                          .authenticator = authenticator_.get(),
                                                          .page_tokens = page_tokens_.get(),
                                                          .executor = executor_.get(),
                                                          .throttle = throttle_.get(),
                                                          .trusted_proxies = &trusted_proxies_});
    server::RunnerOptions options;
    options.service = "auth";
    runner_ = std::make_unique<server::Runner>(options);
    runner_->AddService(&auth_proxy_, AuthService::service_full_name());
    runner_->AddService(user_service_.get(), UserService::service_full_name());
    ASSERT_TRUE(runner_->Start().ok());
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                       grpc::InsecureChannelCredentials());
    auth_ = AuthService::NewStub(channel);
    users_stub_ = UserService::NewStub(channel);
  }

  void TearDown() override {
    if (runner_ != nullptr) {
      runner_->Stop();
    }
  }

  // Re-creates the AuthService implementation around the current issuer
  // (after a key rotation); the registered proxy forwards to it.
  void RebuildAuthService() {
    auth_impl_ = std::make_unique<AuthServiceImpl>(AuthServiceDeps{
        .users = users_.get(),
        .hasher = hasher_.get(),
        .tokens = issuer_.get(),
        .authenticator = authenticator_.get(),
        .executor = executor_.get(),
        .throttle = throttle_.get(),
        .trusted_proxies = &trusted_proxies_,
    });
    auth_proxy_.target = auth_impl_.get();
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) {
      context->AddMetadata("authorization", "Bearer " + token);
    }
    return context;
  }

  grpc::Status Login(const std::string& email, const std::string& password,
                     LoginResponse* response) {
    LoginRequest request;
    request.set_email(email);
    request.set_password(password);
    return auth_->Login(Context().get(), request, response);
  }

  std::string TokenFor(const std::string& email, const std::string& password) {
    LoginResponse response;
    grpc::Status status = Login(email, password, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.access_token();
  }

  std::string AdminToken() { return TokenFor(kAdminEmail, kAdminPassword); }

  // The auth.* activities about `email` in the outbox, oldest first, as
  // "action key=value ..." with the counts of the folding rules.
  std::vector<std::string> SignInActivities(const std::string& email) {
    std::vector<std::string> out;
    EXPECT_TRUE(pool_
                    ->Read([&](pqxx::nontransaction& tx) {
                      out.clear();
                      for (const auto& row : tx.exec_params(
                               "SELECT action, details->>'failures', details->>'locked_seconds', "
                               "details->>'failures_before', details ? 'window_closed' "
                               "FROM outbox WHERE action LIKE 'auth.%' "
                               "AND details->>'email' = $1 ORDER BY id",
                               email)) {
                        std::string line = row[0].as<std::string>();
                        if (!row[1].is_null()) {
                          absl::StrAppend(&line, " failures=", row[1].as<std::string>());
                        }
                        if (!row[2].is_null()) {
                          absl::StrAppend(&line, " locked_seconds=", row[2].as<std::string>());
                        }
                        if (!row[3].is_null()) {
                          absl::StrAppend(&line, " failures_before=", row[3].as<std::string>());
                        }
                        if (row[4].as<bool>()) {
                          absl::StrAppend(&line, " window_closed");
                        }
                        out.push_back(line);
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }

  int64_t Count(const std::string& sql) {
    int64_t n = -1;
    EXPECT_TRUE(pool_
                    ->Read([&](pqxx::nontransaction& tx) {
                      n = tx.exec1(sql)[0].as<int64_t>();
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  }

  // Sessions of this test's database blocked on a lock right now.
  int SessionsWaitingForLocks() {
    pqxx::connection probe(cluster_->Dsn("postgres"));
    pqxx::nontransaction tx(probe);
    return tx
        .exec_params1(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
            "AND wait_event_type = 'Lock'",
            db_name_)[0]
        .as<int>();
  }

  // Auth starts signing with `issuer`'s keys and publishing them; returns
  // once the authenticator has refreshed its keys since.
  void Rotate(std::shared_ptr<const TokenIssuer> issuer) {
    issuer_ = std::move(issuer);
    keys_->Set(issuer_);
    RebuildAuthService();
    const int64_t fetched = authenticator_->stats().key_fetches;
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    // Two completions: the second surely started after the swap.
    while (authenticator_->stats().key_fetches < fetched + 2 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  // Creates a user as admin; returns its id.
  int64_t Create(const std::string& name, const std::string& email, crm::auth::v1::Role role,
                 const std::string& password = "password-123") {
    CreateUserRequest request;
    request.mutable_user()->set_name(name);
    request.mutable_user()->set_email(email);
    request.mutable_user()->set_role(role);
    request.set_password(password);
    CreateUserResponse response;
    grpc::Status status = users_stub_->CreateUser(Context(AdminToken()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.user().id();
  }

  grpc::Status GetUser(const std::string& token, int64_t id, GetUserResponse* response) {
    GetUserRequest request;
    request.set_id(id);
    return users_stub_->GetUser(Context(token).get(), request, response);
  }

  grpc::StatusCode GetUserCode(const std::string& token, int64_t id = 0) {
    GetUserResponse response;
    return GetUser(token, id, &response).error_code();
  }

  // Forwards to the current implementation, so tests can swap keys.
  struct AuthProxy final : public AuthService::CallbackService {
    AuthServiceImpl* target = nullptr;
    grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* c, const LoginRequest* q,
                                    LoginResponse* r) override {
      return target->Login(c, q, r);
    }
    grpc::ServerUnaryReactor* RefreshToken(grpc::CallbackServerContext* c,
                                           const RefreshTokenRequest* q,
                                           RefreshTokenResponse* r) override {
      return target->RefreshToken(c, q, r);
    }
    grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* c, const LogoutRequest* q,
                                     LogoutResponse* r) override {
      return target->Logout(c, q, r);
    }
    grpc::ServerUnaryReactor* ListPublicKeys(grpc::CallbackServerContext* c,
                                             const ListPublicKeysRequest* q,
                                             ListPublicKeysResponse* r) override {
      return target->ListPublicKeys(c, q, r);
    }
  };

  Ed25519PrivateKey key1_ = *Ed25519PrivateKey::Generate();
  std::shared_ptr<const TokenIssuer> issuer_;
  SwappableKeySource* keys_ = nullptr;  // owned by authenticator_
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<db::PipelinedReader> reader_;
  std::unique_ptr<UserRepository> users_;
  std::unique_ptr<SignInThrottle> throttle_;
  server::TrustedProxies trusted_proxies_;
  std::unique_ptr<PasswordHasher> hasher_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<pagination::PageTokenCodec> page_tokens_;
  std::unique_ptr<server::BlockingExecutor> executor_;
  std::unique_ptr<AuthServiceImpl> auth_impl_;
  AuthProxy auth_proxy_;
  std::unique_ptr<UserServiceImpl> user_service_;
  std::unique_ptr<server::Runner> runner_;
  std::unique_ptr<AuthService::Stub> auth_;
  std::unique_ptr<UserService::Stub> users_stub_;
};

TEST_F(AuthServiceTest, SignInIssuesVerifiableTokens) {
  LoginResponse response;
  ASSERT_TRUE(Login("  ADMIN@crm.local ", kAdminPassword, &response).ok());
  EXPECT_EQ(response.user().email(), kAdminEmail);
  EXPECT_EQ(response.user().role(), ROLE_ADMIN);
  EXPECT_EQ(response.token_type(), "Bearer");
  EXPECT_FALSE(response.refresh_token().empty());
  const absl::Duration ttl =
      absl::FromUnixSeconds(response.access_token_expires_at().seconds()) - absl::Now();
  EXPECT_LE(ttl, absl::Minutes(15));
  EXPECT_GT(ttl, absl::Minutes(14));
  auto caller = authenticator_->AuthenticateToken(response.access_token());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->user_id, response.user().id());
  EXPECT_EQ(caller->role, Role::kAdmin);
  // The header names the algorithm, type and key.
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(
      response.access_token().substr(0, response.access_token().find('.')), &header));
  EXPECT_THAT(header, HasSubstr("\"alg\":\"EdDSA\""));
  EXPECT_THAT(header, HasSubstr("\"typ\":\"at+jwt\""));
  EXPECT_THAT(header, HasSubstr(key1_.public_key().Kid()));
}

TEST_F(AuthServiceTest, WrongPasswordUnknownEmailAndDeactivatedLookTheSame) {
  const int64_t agent = Create("Agent", "agent@crm.local", ROLE_AGENT);
  DeactivateUserRequest deactivate;
  deactivate.set_id(agent);
  DeactivateUserResponse deactivated;
  ASSERT_TRUE(
      users_stub_->DeactivateUser(Context(AdminToken()).get(), deactivate, &deactivated).ok());

  LoginResponse response;
  grpc::Status wrong = Login(kAdminEmail, "not-the-password", &response);
  grpc::Status unknown = Login("nobody@crm.local", "not-the-password", &response);
  grpc::Status inactive = Login("agent@crm.local", "password-123", &response);
  for (const grpc::Status& status : {wrong, unknown, inactive}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), wrong.error_message());
    EXPECT_EQ(status.error_details(), wrong.error_details());
  }
}

TEST_F(AuthServiceTest, ThrottlingLocksOneAccountNotAnother) {
  Create("Other", "other@crm.local", ROLE_AGENT);
  LoginResponse response;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Login(kAdminEmail, "wrong-password", &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Locked now, even with the right password, and told when to retry.
  grpc::Status locked = Login(kAdminEmail, kAdminPassword, &response);
  EXPECT_EQ(locked.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(locked.error_details()));
  google::rpc::RetryInfo retry;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_GT(retry.retry_delay().seconds(), 0);
  // Another account from the same address still works.
  EXPECT_TRUE(Login("other@crm.local", "password-123", &response).ok());
}

// Fifty guesses at once: the count-and-check is one row-locking statement,
// so no more than the limit (5 here) are ever verified, and the right
// password is refused afterwards.
TEST_F(AuthServiceTest, ConcurrentGuessesNeverExceedTheLimit) {
  // Enough workers and hashing threads that all fifty really run at once.
  server::BlockingExecutor executor(50, 100);
  PasswordHasher hasher(PasswordHasherOptions{
      .memory_kib = 1024, .iterations = 1, .max_concurrent = 50, .max_queued = 50});
  AuthServiceImpl wide({.users = users_.get(),
                        .hasher = &hasher,
                        .tokens = issuer_.get(),
                        .authenticator = authenticator_.get(),
                        .executor = &executor,
                        .throttle = throttle_.get(),
                        .trusted_proxies = &trusted_proxies_});
  auth_proxy_.target = &wide;
  std::atomic<int> verified{0};
  std::atomic<int> throttled{0};
  std::atomic<int> other{0};
  std::vector<std::thread> guessers;
  for (int i = 0; i < 50; ++i) {
    guessers.emplace_back([&, i] {
      LoginResponse response;
      const grpc::Status status = Login(kAdminEmail, absl::StrCat("wrong-password-", i), &response);
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        ++verified;
      } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++throttled;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : guessers) {
    t.join();
  }
  EXPECT_EQ(other.load(), 0);
  EXPECT_LE(verified.load(), 5);
  EXPECT_GE(verified.load(), 1);
  EXPECT_EQ(verified.load() + throttled.load(), 50);
  LoginResponse response;
  EXPECT_EQ(Login(kAdminEmail, kAdminPassword, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  auth_proxy_.target = auth_impl_.get();
}

// A sign-in refused because hashing is at its limit is answered after the
// refusal delay, without a thread each: twenty at once all come back after
// one delay, however few workers there are. A client that ignores RetryInfo
// is slowed to its concurrency / delay.
TEST_F(AuthServiceTest, BusySignInsAreAnsweredLateWithoutHoldingThreads) {
  PasswordHasher hasher(PasswordHasherOptions{.memory_kib = 1024,
                                              .iterations = 1,
                                              .max_concurrent = 1,
                                              .max_queued = 1,
                                              .max_per_second = 0.01});
  ASSERT_TRUE(hasher.VerifyDummy("password123").ok());  // the budget's one token
  AuthServiceImpl slow({.users = users_.get(),
                        .hasher = &hasher,
                        .tokens = issuer_.get(),
                        .authenticator = authenticator_.get(),
                        .executor = executor_.get(),
                        .throttle = throttle_.get(),
                        .trusted_proxies = &trusted_proxies_,
                        .refusal_delay = absl::Milliseconds(400)});
  auth_proxy_.target = &slow;
  std::vector<std::thread> callers;
  std::atomic<int> refused{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < 20; ++i) {
    callers.emplace_back([&] {
      LoginResponse response;
      if (Login(kAdminEmail, kAdminPassword, &response).error_code() ==
          grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused;
      }
    });
  }
  for (std::thread& t : callers) {
    t.join();
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(refused.load(), 20);
  EXPECT_GE(took, absl::Milliseconds(400));
  EXPECT_LT(took, absl::Milliseconds(400 * 4));  // not one delay after another
  auth_proxy_.target = auth_impl_.get();
}

// Attempts on a locked account write nothing: they are refused on a read,
// so they neither wait for the counter's row lock nor leave row versions
// behind. A session holding that row shows it: refusals still come at once.
TEST_F(AuthServiceTest, AttemptsOnALockedAccountAreRefusedWithoutWriting) {
  LoginResponse response;
  for (int i = 0; i < 5; ++i) {
    Login(kAdminEmail, "wrong-password", &response);
  }
  pqxx::connection holder(dsn_);
  pqxx::work hold(holder);
  hold.exec_params("SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE",
                   absl::StrCat("account:", kAdminEmail));
  for (int i = 0; i < 5; ++i) {
    LoginRequest request;
    request.set_email(kAdminEmail);
    request.set_password(kAdminPassword);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    EXPECT_EQ(auth_->Login(&context, request, &response).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  hold.abort();
}

// What the activity log gets from guessing: the window's first failure and
// the lock at once, the failures between folded into the next report's
// count (counts never overlap: 1 + 4 = 5 failures), and nothing at all for
// throttled attempts.
TEST_F(AuthServiceTest, FailedSignInsAreFoldedAndThrottledOnesRecordNothing) {
  Create("Agent", "agent@crm.local", ROLE_AGENT);
  Create("Client", "client@crm.local", ROLE_CLIENT);
  LoginResponse response;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Login("agent@crm.local", "wrong-password", &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Login("agent@crm.local", "password-123", &response).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  EXPECT_THAT(SignInActivities("agent@crm.local"),
              ::testing::ElementsAre("auth.sign_in_failed failures=1",
                                     "auth.sign_in_locked failures=4 locked_seconds=60"));

  // A success after failures below the limit carries their count.
  Login("client@crm.local", "wrong-password", &response);
  Login("client@crm.local", "wrong-password", &response);
  Login("client@crm.local", "wrong-password", &response);
  ASSERT_TRUE(Login("client@crm.local", "password-123", &response).ok());
  EXPECT_THAT(SignInActivities("client@crm.local"),
              ::testing::ElementsAre("auth.sign_in_failed failures=1",
                                     "auth.sign_in_succeeded failures_before=2"));
}

// Failures folded in a window that then went quiet are reported when the
// janitor purges the expired row; live rows stay.
TEST_F(AuthServiceTest, ThePurgeOfExpiredCountersReportsWhatWasFolded) {
  LoginResponse response;
  for (int i = 0; i < 3; ++i) {
    Login("nobody@crm.local", "wrong-password", &response);
  }
  Login("someone@crm.local", "wrong-password", &response);
  ASSERT_TRUE(cluster_
                  ->Exec("UPDATE login_throttle SET window_start = now() - interval '2 hours' "
                         "WHERE key <> 'account:someone@crm.local'",
                         db_name_)
                  .ok());
  absl::StatusOr<int> purged = throttle_->PurgeExpired(100);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);  // nobody's account and the source address
  EXPECT_THAT(SignInActivities("nobody@crm.local"),
              ::testing::ElementsAre("auth.sign_in_failed failures=1",
                                     "auth.sign_in_failed failures=2 window_closed"));
  EXPECT_EQ(Count("SELECT count(*) FROM login_throttle"), 1);
  EXPECT_EQ(*throttle_->PurgeExpired(100), 0);
}

TEST_F(AuthServiceTest, ExpiredSessionsAndOldRequestIdsArePurgedInBatches) {
  const std::string admin_token = AdminToken();
  for (int i = 0; i < 5; ++i) {
    CreateUserRequest request;
    request.mutable_user()->set_name(absl::StrCat("User ", i));
    request.mutable_user()->set_email(absl::StrCat("user", i, "@crm.local"));
    request.mutable_user()->set_role(ROLE_CLIENT);
    request.set_password("password-123");
    request.set_request_id(absl::StrCat("request-", i));
    CreateUserResponse response;
    ASSERT_TRUE(users_stub_->CreateUser(Context(admin_token).get(), request, &response).ok());
    AdminToken();  // one more session each
  }
  ASSERT_TRUE(cluster_
                  ->Exec("UPDATE request_results SET created_at = now() - interval '25 hours' "
                         "WHERE request_id <> 'request-4'",
                         db_name_)
                  .ok());
  const int64_t sessions = Count("SELECT count(*) FROM refresh_tokens");
  ASSERT_TRUE(cluster_
                  ->Exec("UPDATE refresh_tokens SET expires_at = now() - interval '2 days' "
                         "WHERE id IN (SELECT id FROM refresh_tokens ORDER BY id LIMIT 3)",
                         db_name_)
                  .ok());
  retention::Janitor janitor({.batch = 2});
  for (retention::PurgeTask& task : users_->PurgeTasks()) {
    janitor.Add(std::move(task));
  }
  janitor.Add(idempotency::PurgeTask(pool_.get(), absl::Hours(24)));
  std::map<std::string, int64_t> purged = janitor.RunOnce();
  EXPECT_EQ(purged["request_results"], 4);
  EXPECT_EQ(purged["refresh_tokens"], 3);
  EXPECT_EQ(Count("SELECT count(*) FROM refresh_tokens"), sessions - 3);
  EXPECT_EQ(Count("SELECT count(*) FROM request_results"), 1);
}

// Behind the gateway the TCP peer is the gateway: the client's address comes
// from x-forwarded-for, believed only from a configured proxy.
TEST_F(AuthServiceTest, TheSourceIsTheForwardedClientOnlyBehindATrustedProxy) {
  auto login = [&](const std::string& forwarded_for) {
    LoginRequest request;
    request.set_email("nobody@crm.local");
    request.set_password("wrong-password");
    auto context = Context();
    context->AddMetadata("x-forwarded-for", forwarded_for);
    LoginResponse response;
    return auth_->Login(context.get(), request, &response);
  };
  login("203.0.113.7");  // not trusted yet: the peer counts
  trusted_proxies_ = *server::TrustedProxies::Parse({"127.0.0.1"});
  login("198.51.100.1, 203.0.113.8");  // the client wrote the first entry itself
  login("garbage");                    // not an address: the proxy's own
  std::vector<std::string> keys;
  ASSERT_TRUE(pool_
                  ->Read([&](pqxx::nontransaction& tx) {
                    keys.clear();
                    for (const auto& row : tx.exec("SELECT key || '=' || failures FROM "
                                                   "login_throttle WHERE key LIKE 'peer:%' "
                                                   "ORDER BY key")) {
                      keys.push_back(row[0].as<std::string>());
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_THAT(keys, ::testing::ElementsAre("peer:127.0.0.1=2", "peer:203.0.113.8=1"));
  trusted_proxies_ = server::TrustedProxies();
}

// A stolen access token must not be a way round the sign-in limit: the
// current-password check of ChangePassword counts against the same account.
TEST_F(AuthServiceTest, ChangePasswordChecksAreThrottledLikeSignIn) {
  Create("Agent", "agent@crm.local", ROLE_AGENT);
  const std::string agent_token = TokenFor("agent@crm.local", "password-123");
  auto change = [&](const std::string& current) {
    ChangePasswordRequest request;
    request.set_current_password(current);
    request.set_new_password("new-password-456");
    ChangePasswordResponse response;
    return users_stub_->ChangePassword(Context(agent_token).get(), request, &response);
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(change("wrong-password").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(change("password-123").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  LoginResponse response;
  EXPECT_EQ(Login("agent@crm.local", "password-123", &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(SignInActivities("agent@crm.local"),
              ::testing::ElementsAre("auth.sign_in_succeeded failures_before=0",
                                     "auth.sign_in_failed failures=1",
                                     "auth.sign_in_locked failures=4 locked_seconds=60"));
}

TEST_F(AuthServiceTest, ForgedAndMisusedTokensAreRejected) {
  LoginResponse login;
  ASSERT_TRUE(Login(kAdminEmail, kAdminPassword, &login).ok());
  const int64_t admin = login.user().id();
  ASSERT_EQ(GetUserCode(login.access_token()), grpc::StatusCode::OK);

  const auto claims = [&] {
    AccessClaims c;
    c.issuer = "crm-auth";
    c.audience = "crm";
    c.subject = admin;
    c.role = "ADMIN";
    c.issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    c.expires_at = c.issued_at + absl::Minutes(10);
    c.jwt_id = "test";
    return c;
  };
  std::vector<std::pair<std::string, std::string>> forged;
  {
    AccessClaims c = claims();
    c.issued_at -= absl::Minutes(30);
    c.expires_at = c.issued_at + absl::Minutes(10);
    forged.emplace_back("expired", SignAccessToken(c, key1_));
  }
  {
    AccessClaims c = claims();
    c.audience = "someone-else";
    forged.emplace_back("wrong aud", SignAccessToken(c, key1_));
  }
  {
    AccessClaims c = claims();
    c.issuer = "evil";
    forged.emplace_back("wrong iss", SignAccessToken(c, key1_));
  }
  forged.emplace_back("unknown kid", SignAccessToken(claims(), *Ed25519PrivateKey::Generate()));
  {
    // alg none: a valid payload with no signature.
    const std::string token = login.access_token();
    const size_t dot = token.find('.');
    const std::string payload = token.substr(dot + 1, token.rfind('.') - dot - 1);
    forged.emplace_back(
        "alg none",
        absl::WebSafeBase64Escape("{\"alg\":\"none\",\"typ\":\"at+jwt\"}") + "." + payload + ".");
    forged.emplace_back("bad signature", token.substr(0, token.rfind('.') + 1) +
                                             absl::WebSafeBase64Escape(std::string(64, 'x')));
  }
  forged.emplace_back("refresh token as access token", login.refresh_token());
  forged.emplace_back("garbage", "not.a.token");
  for (const auto& [what, token] : forged) {
    EXPECT_EQ(GetUserCode(token), grpc::StatusCode::UNAUTHENTICATED) << what;
  }
  // No header at all, and a non-Bearer scheme.
  GetUserResponse response;
  GetUserRequest request;
  EXPECT_EQ(users_stub_->GetUser(Context().get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto basic = Context();
  basic->AddMetadata("authorization", "Basic YWRtaW46YWRtaW4=");
  EXPECT_EQ(users_stub_->GetUser(basic.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthServiceTest, KeyRotationKeepsOldTokensUntilTheOldKeyIsDropped) {
  const std::string old_token = AdminToken();
  Ed25519PrivateKey key2 = *Ed25519PrivateKey::Generate();
  Rotate(std::make_shared<const TokenIssuer>(std::vector<Ed25519PrivateKey>{key1_, key2},
                                             TokenOptions{}));
  const std::string new_token = AdminToken();
  EXPECT_NE(new_token.substr(0, new_token.find('.')), old_token.substr(0, old_token.find('.')));
  EXPECT_EQ(GetUserCode(old_token), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(new_token), grpc::StatusCode::OK);

  ListPublicKeysResponse keys;
  ASSERT_TRUE(auth_->ListPublicKeys(Context().get(), {}, &keys).ok());  // no token needed
  ASSERT_EQ(keys.keys_size(), 2);
  EXPECT_EQ(keys.keys(0).kid(), key2.public_key().Kid());
  EXPECT_TRUE(keys.keys(0).active());
  EXPECT_EQ(keys.keys(0).public_key().size(), 32u);

  Rotate(std::make_shared<const TokenIssuer>(std::vector<Ed25519PrivateKey>{key2}, TokenOptions{}));
  // Key 1 is no longer published: after the next refresh its tokens stop
  // working (cached or not), key 2's do not.
  EXPECT_EQ(GetUserCode(old_token), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetUserCode(new_token), grpc::StatusCode::OK);
}

TEST_F(AuthServiceTest, RefreshRotatesAndReuseRevokesTheFamily) {
  LoginResponse login;
  ASSERT_TRUE(Login(kAdminEmail, kAdminPassword, &login).ok());
  RefreshTokenRequest first;
  first.set_refresh_token(login.refresh_token());
  RefreshTokenResponse second;
  ASSERT_TRUE(auth_->RefreshToken(Context().get(), first, &second).ok());
  EXPECT_NE(second.refresh_token(), login.refresh_token());
  EXPECT_EQ(GetUserCode(second.access_token()), grpc::StatusCode::OK);

  // The first token again: theft. It fails, and so does the one it led to.
  RefreshTokenResponse replay;
  EXPECT_EQ(auth_->RefreshToken(Context().get(), first, &replay).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  RefreshTokenRequest next;
  next.set_refresh_token(second.refresh_token());
  EXPECT_EQ(auth_->RefreshToken(Context().get(), next, &replay).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Another sign-in (another family) is unaffected.
  LoginResponse other;
  ASSERT_TRUE(Login(kAdminEmail, kAdminPassword, &other).ok());
  next.set_refresh_token(other.refresh_token());
  EXPECT_TRUE(auth_->RefreshToken(Context().get(), next, &replay).ok());
}

TEST_F(AuthServiceTest, LogoutWithADeadRefreshTokenSignsNobodyOut) {
  Create("Agent", "agent@crm.local", ROLE_AGENT);
  const auto refresh = [&](const std::string& token, RefreshTokenResponse* response) {
    RefreshTokenRequest request;
    request.set_refresh_token(token);
    return auth_->RefreshToken(Context().get(), request, response);
  };
  const auto logout = [&](const std::string& token) {
    LogoutRequest request;
    request.set_refresh_token(token);
    LogoutResponse response;
    return auth_->Logout(Context().get(), request, &response).error_code();
  };
  // A rotated token, an expired one and a revoked one...
  LoginResponse rotated;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &rotated).ok());
  RefreshTokenResponse rotation;
  ASSERT_TRUE(refresh(rotated.refresh_token(), &rotation).ok());
  LoginResponse expired;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &expired).ok());
  ASSERT_TRUE(cluster_
                  ->Exec("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
                         "WHERE id = (SELECT max(id) FROM refresh_tokens)",
                         db_name_)
                  .ok());
  // ...then the session that must survive them.
  LoginResponse live;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &live).ok());
  EXPECT_EQ(logout(rotated.refresh_token()), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(logout(expired.refresh_token()), grpc::StatusCode::UNAUTHENTICATED);
  RefreshTokenResponse still;
  ASSERT_TRUE(refresh(live.refresh_token(), &still).ok());
  // A real sign-out revokes; the revoked token then signs nobody out either.
  LoginResponse other;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &other).ok());
  ASSERT_EQ(logout(still.refresh_token()), grpc::StatusCode::OK);
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &other).ok());
  EXPECT_EQ(logout(still.refresh_token()), grpc::StatusCode::UNAUTHENTICATED);
  RefreshTokenResponse after;
  EXPECT_TRUE(refresh(other.refresh_token(), &after).ok());
}

TEST_F(AuthServiceTest, LogoutPasswordChangeAndDeactivationRevokeRefreshTokens) {
  const int64_t agent = Create("Agent", "agent@crm.local", ROLE_AGENT);
  const auto refresh_works = [&](const std::string& token) {
    RefreshTokenRequest request;
    request.set_refresh_token(token);
    RefreshTokenResponse response;
    return auth_->RefreshToken(Context().get(), request, &response).ok();
  };
  // Logout with only the refresh token.
  LoginResponse a;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &a).ok());
  LogoutRequest logout;
  logout.set_refresh_token(a.refresh_token());
  LogoutResponse logged_out;
  ASSERT_TRUE(auth_->Logout(Context().get(), logout, &logged_out).ok());
  EXPECT_EQ(logged_out.revoked_token_count(), 1);
  EXPECT_FALSE(refresh_works(a.refresh_token()));

  // Password change (needs the current password) revokes.
  LoginResponse b;
  ASSERT_TRUE(Login("agent@crm.local", "password-123", &b).ok());
  ChangePasswordRequest change;
  change.set_current_password("wrong-current");
  change.set_new_password("new-password-456");
  ChangePasswordResponse changed;
  EXPECT_EQ(
      users_stub_->ChangePassword(Context(b.access_token()).get(), change, &changed).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  change.set_current_password("password-123");
  ASSERT_TRUE(users_stub_->ChangePassword(Context(b.access_token()).get(), change, &changed).ok());
  EXPECT_EQ(changed.revoked_token_count(), 1);
  EXPECT_FALSE(refresh_works(b.refresh_token()));

  // Deactivation revokes, and the user can no longer sign in.
  LoginResponse c;
  ASSERT_TRUE(Login("agent@crm.local", "new-password-456", &c).ok());
  DeactivateUserRequest deactivate;
  deactivate.set_id(agent);
  DeactivateUserResponse deactivated;
  ASSERT_TRUE(
      users_stub_->DeactivateUser(Context(AdminToken()).get(), deactivate, &deactivated).ok());
  EXPECT_FALSE(deactivated.user().active());
  EXPECT_FALSE(refresh_works(c.refresh_token()));
  EXPECT_EQ(Login("agent@crm.local", "new-password-456", &c).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// GetUser without the pipelined reader (--db_read_connections=0) answers
// what it answers with it.
class AuthServiceOnThePoolTest : public AuthServiceTest {
 protected:
  bool UsePipelinedReader() const override { return false; }
};

TEST_F(AuthServiceOnThePoolTest, GetUserAppliesTheSameViews) {
  const int64_t agent = Create("Agent A", "a@crm.local", ROLE_AGENT);
  const int64_t other_agent = Create("Agent B", "b@crm.local", ROLE_AGENT);
  const int64_t client = Create("Client", "client@crm.local", ROLE_CLIENT);
  const std::string agent_token = TokenFor("a@crm.local", "password-123");
  GetUserResponse got;
  ASSERT_TRUE(GetUser(AdminToken(), client, &got).ok());
  EXPECT_EQ(got.user().email(), "client@crm.local");
  EXPECT_GT(got.user().version(), 0);
  EXPECT_EQ(GetUserCode(agent_token, agent), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(agent_token, client), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetUserCode(agent_token, 999999), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(GetUser(agent_token, other_agent, &got).ok());
  EXPECT_EQ(got.user().name(), "Agent B");
  EXPECT_EQ(got.user().version(), 0);  // directory view only
  EXPECT_EQ(GetUserCode("not-a-token", agent), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthServiceTest, GetUserOnThePipelinedReaderSurvivesLostConnections) {
  const std::string admin = AdminToken();
  ASSERT_EQ(GetUserCode(admin), grpc::StatusCode::OK);
  ASSERT_TRUE(cluster_->TerminateConnections(db_name_).ok());
  // A call meeting a dead connection fails UNAVAILABLE, never hangs or
  // leaks SQL; the next ones are served on fresh connections.
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  for (int i = 0; i < 10 && code != grpc::StatusCode::OK; ++i) {
    code = GetUserCode(admin);
    if (code != grpc::StatusCode::OK) {
      EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_EQ(code, grpc::StatusCode::OK);
}

TEST_F(AuthServiceTest, TimestampsKeepEveryMicrosecond) {
  // 1796114030.110813 has no exact float8: read through seconds as a double,
  // it came back as …110812902 ns.
  ASSERT_TRUE(cluster_
                  ->Exec("UPDATE users SET created_at = '2026-12-01 08:33:50.110813+00', "
                         "updated_at = '2026-12-01 08:33:50.999999+00' WHERE id = 1",
                         db_name_)
                  .ok());
  GetUserResponse got;
  ASSERT_TRUE(GetUser(AdminToken(), 1, &got).ok());
  EXPECT_EQ(got.user().create_time().seconds(), 1796114030);
  EXPECT_EQ(got.user().create_time().nanos(), 110813000);
  EXPECT_EQ(got.user().update_time().nanos(), 999999000);
}

// A call whose client gave up stops its SQL at about its deadline instead
// of holding a connection for the pool's 30 s statement timeout.
TEST_F(AuthServiceTest, SqlStopsAtTheCallsDeadline) {
  const std::string admin = AdminToken();
  pqxx::connection locker(cluster_->Dsn(db_name_));
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
  auto context = Context(admin);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(400));
  ListUsersRequest request;
  ListUsersResponse response;
  const absl::Time start = absl::Now();
  EXPECT_EQ(users_stub_->ListUsers(context.get(), request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // Once the deadline (plus the rounding of the statement timeout) is past,
  // no statement of the service still waits for the lock.
  std::this_thread::sleep_until(absl::ToChronoTime(start + absl::Milliseconds(1200)));
  EXPECT_EQ(SessionsWaitingForLocks(), 0);
  lock.abort();
  EXPECT_EQ(GetUserCode(admin), grpc::StatusCode::OK);
}

TEST_F(AuthServiceTest, ConcurrentRetriesOfCreateUserAllGetTheFirstResult) {
  const std::string admin = AdminToken();
  CreateUserRequest request;
  request.mutable_user()->set_name("Racer");
  request.mutable_user()->set_email("racer@crm.local");
  request.mutable_user()->set_role(ROLE_AGENT);
  request.set_password("password-123");
  request.set_request_id("create-racer-1");
  // The retries are made to meet: all wait (behind a lock on the results
  // table) before any of them looks for an earlier result.
  pqxx::connection locker(cluster_->Dsn(db_name_));
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE request_results IN ACCESS EXCLUSIVE MODE");
  constexpr int kRetries = 8;
  std::vector<grpc::Status> statuses(kRetries);
  std::vector<int64_t> ids(kRetries, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRetries; ++i) {
    threads.emplace_back([&, i] {
      CreateUserResponse response;
      statuses[i] = users_stub_->CreateUser(Context(admin).get(), request, &response);
      ids[i] = response.user().id();
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (SessionsWaitingForLocks() < 4 && absl::Now() < give_up) {  // the pool has 4 connections
    absl::SleepFor(absl::Milliseconds(5));
  }
  lock.abort();
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int i = 0; i < kRetries; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(ids[i], ids[0]);
  }
  EXPECT_GT(ids[0], 0);
  int64_t created = 0;
  ASSERT_TRUE(pool_
                  ->Read([&](pqxx::nontransaction& tx) {
                    created = tx.exec(
                                    "SELECT count(*) FROM outbox WHERE action = 'user.created' "
                                    "AND details->>'email' = 'racer@crm.local'")[0][0]
                                  .as<int64_t>();
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(created, 1);
}

TEST_F(AuthServiceTest, PermissionTablePerRole) {
  const int64_t agent = Create("Agent A", "a@crm.local", ROLE_AGENT);
  const int64_t other_agent = Create("Agent B", "b@crm.local", ROLE_AGENT);
  const int64_t client = Create("Client", "client@crm.local", ROLE_CLIENT);
  const int64_t service =
      Create("Leads service", "leads@service.crm.local", ROLE_SERVICE, "service-secret-1");
  const std::string admin_token = AdminToken();
  const std::string agent_token = TokenFor("a@crm.local", "password-123");
  const std::string client_token = TokenFor("client@crm.local", "password-123");
  const std::string service_token = TokenFor("leads@service.crm.local", "service-secret-1");

  // CreateUser: ADMIN only.
  CreateUserRequest create;
  create.mutable_user()->set_name("X");
  create.mutable_user()->set_email("x@crm.local");
  create.mutable_user()->set_role(ROLE_AGENT);
  create.set_password("password-123");
  CreateUserResponse created;
  for (const std::string& token : {agent_token, client_token, service_token}) {
    EXPECT_EQ(users_stub_->CreateUser(Context(token).get(), create, &created).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // GetUser.
  GetUserResponse got;
  EXPECT_EQ(GetUserCode(admin_token, client), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(service_token, client), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(agent_token, agent), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(agent_token, client), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(GetUser(agent_token, other_agent, &got).ok());
  EXPECT_EQ(got.user().name(), "Agent B");
  EXPECT_EQ(got.user().version(), 0);  // directory view only
  EXPECT_EQ(GetUserCode(client_token, client), grpc::StatusCode::OK);
  EXPECT_EQ(GetUserCode(client_token, agent), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetUserCode(client_token, service), grpc::StatusCode::NOT_FOUND);

  // ListUsers: agents get the agent directory, clients nothing.
  ListUsersRequest list;
  ListUsersResponse listed;
  ASSERT_TRUE(users_stub_->ListUsers(Context(agent_token).get(), list, &listed).ok());
  ASSERT_EQ(listed.users_size(), 2);
  for (const User& user : listed.users()) {
    EXPECT_EQ(user.role(), ROLE_AGENT);
  }
  EXPECT_EQ(users_stub_->ListUsers(Context(client_token).get(), list, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(users_stub_->ListUsers(Context(service_token).get(), list, &listed).ok());
  EXPECT_EQ(listed.users_size(), 5);

  // UpdateUser: self may rename; role changes are ADMIN only.
  UpdateUserRequest update;
  update.mutable_user()->set_id(agent);
  update.mutable_user()->set_name("Agent A2");
  update.mutable_update_mask()->add_paths("name");
  UpdateUserResponse updated;
  ASSERT_TRUE(users_stub_->UpdateUser(Context(agent_token).get(), update, &updated).ok());
  EXPECT_EQ(updated.user().name(), "Agent A2");
  update.mutable_user()->set_role(ROLE_ADMIN);
  update.mutable_update_mask()->add_paths("role");
  EXPECT_EQ(users_stub_->UpdateUser(Context(agent_token).get(), update, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  update.mutable_user()->set_id(other_agent);
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("name");
  EXPECT_EQ(users_stub_->UpdateUser(Context(agent_token).get(), update, &updated).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // DeactivateUser: ADMIN only.
  DeactivateUserRequest deactivate;
  deactivate.set_id(other_agent);
  DeactivateUserResponse deactivated;
  for (const std::string& token : {agent_token, client_token, service_token}) {
    EXPECT_EQ(
        users_stub_->DeactivateUser(Context(token).get(), deactivate, &deactivated).error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(AuthServiceTest, PasswordLengthLimits) {
  int i = 0;
  for (size_t length : {8u, 64u, 128u}) {
    const std::string email = absl::StrCat("len", ++i, "@crm.local");
    const std::string password(length, 'p');
    Create("Len", email, ROLE_CLIENT, password);
    LoginResponse response;
    EXPECT_TRUE(Login(email, password, &response).ok()) << length;
  }
  CreateUserRequest request;
  request.mutable_user()->set_name("Too long");
  request.mutable_user()->set_email("long@crm.local");
  request.mutable_user()->set_role(ROLE_CLIENT);
  request.set_password(std::string(129, 'p'));
  CreateUserResponse response;
  grpc::Status status = users_stub_->CreateUser(Context(AdminToken()).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("password"));
}

TEST_F(AuthServiceTest, CreateUserValidatesAndIsIdempotent) {
  const std::string admin = AdminToken();
  CreateUserRequest request;
  request.mutable_user()->set_name("Dana");
  request.mutable_user()->set_email("not-an-email");
  request.mutable_user()->set_role(ROLE_AGENT);
  request.set_password("password-123");
  CreateUserResponse response;
  grpc::Status bad = users_stub_->CreateUser(Context(admin).get(), request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("user.email"));

  request.mutable_user()->set_email("Dana@CRM.local");
  request.set_request_id("req-1");
  grpc::Status first = users_stub_->CreateUser(Context(admin).get(), request, &response);
  ASSERT_TRUE(first.ok()) << first.error_message();
  EXPECT_EQ(response.user().email(), "dana@crm.local");
  CreateUserResponse retry;
  ASSERT_TRUE(users_stub_->CreateUser(Context(admin).get(), request, &retry).ok());
  EXPECT_EQ(retry.user().id(), response.user().id());
  // Without the request id, the same email is a conflict, case-insensitively.
  request.clear_request_id();
  request.mutable_user()->set_email("DANA@crm.local");
  EXPECT_EQ(users_stub_->CreateUser(Context(admin).get(), request, &retry).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AuthServiceTest, ListUsersPagesWithKeysetTokens) {
  for (int i = 0; i < 7; ++i) {
    Create(absl::StrCat("Agent ", i), absl::StrCat("agent", i, "@crm.local"), ROLE_AGENT);
  }
  const std::string admin = AdminToken();
  ListUsersRequest request;
  request.set_page_size(3);
  request.set_role(ROLE_AGENT);
  std::set<int64_t> seen;
  int pages = 0;
  do {
    ListUsersResponse response;
    ASSERT_TRUE(users_stub_->ListUsers(Context(admin).get(), request, &response).ok());
    for (const User& user : response.users()) {
      EXPECT_TRUE(seen.insert(user.id()).second);
    }
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(pages, 3);
  // A token is refused for another filter.
  request.set_page_size(3);
  ListUsersResponse first;
  ASSERT_TRUE(users_stub_->ListUsers(Context(admin).get(), request, &first).ok());
  request.set_page_token(first.next_page_token());
  request.set_role(ROLE_CLIENT);
  ListUsersResponse other;
  EXPECT_EQ(users_stub_->ListUsers(Context(admin).get(), request, &other).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuthServiceTest, VersionMismatchIsAborted) {
  const int64_t agent = Create("Agent", "agent@crm.local", ROLE_AGENT);
  UpdateUserRequest update;
  update.mutable_user()->set_id(agent);
  update.mutable_user()->set_name("Renamed");
  update.mutable_update_mask()->add_paths("name");
  update.set_version(99);
  UpdateUserResponse response;
  EXPECT_EQ(users_stub_->UpdateUser(Context(AdminToken()).get(), update, &response).error_code(),
            grpc::StatusCode::ABORTED);
}

TEST_F(AuthServiceTest, ServiceAccountsSignInFromTheirSecretFileAndRead) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/accounts-", db_name_);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/leads.secret") << "leads-service-secret-0123456789\n";
  ASSERT_TRUE(EnsureServiceAccounts(*users_, *hasher_, dir).ok());
  ASSERT_TRUE(EnsureServiceAccounts(*users_, *hasher_, dir).ok());  // idempotent

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                     grpc::InsecureChannelCredentials());
  auto credentials = ServiceCredentials::FromFile(channel, "leads", dir + "/leads.secret");
  ASSERT_TRUE(credentials.ok());
  auto token = (*credentials)->AccessToken();
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*(*credentials)->AccessToken(), *token);  // cached while fresh
  auto caller = authenticator_->AuthenticateToken(*token);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->role, Role::kService);
  EXPECT_EQ(caller->service, "leads");  // the "svc" claim: which service it is

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE((*credentials)->Attach(context).ok());
  ListUsersResponse listed;
  EXPECT_TRUE(users_stub_->ListUsers(&context, {}, &listed).ok());

  // A rotated secret replaces the old one.
  std::ofstream(dir + "/leads.secret") << "leads-service-secret-rotated-99";
  ASSERT_TRUE(EnsureServiceAccounts(*users_, *hasher_, dir).ok());
  auto stale =
      ServiceCredentials(channel, "leads@service.crm.local", "leads-service-secret-0123456789")
          .AccessToken();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnauthenticated);
}

// Renewal uses the refresh token, so a service's every token does not cost a
// password check and a sign-in activity; after a revocation it signs in again.
TEST_F(AuthServiceTest, ServiceCredentialsRenewWithTheRefreshTokenAndFallBackToSignIn) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/accounts-", db_name_);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/leads.secret") << "leads-service-secret-0123456789";
  ASSERT_TRUE(EnsureServiceAccounts(*users_, *hasher_, dir).ok());
  auto query = [this](const std::string& sql) {
    int64_t value = -1;
    EXPECT_TRUE(pool_
                    ->Read([&](pqxx::nontransaction& tx) {
                      value = tx.exec1(sql)[0].as<int64_t>();
                      return absl::OkStatus();
                    })
                    .ok());
    return value;
  };
  const int64_t leads_id = query("SELECT id FROM users WHERE email = 'leads@service.crm.local'");
  const std::string sign_ins = absl::StrCat(
      "SELECT count(*) FROM outbox WHERE action = 'auth.sign_in_succeeded' AND entity_id = ",
      leads_id);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                     grpc::InsecureChannelCredentials());
  // Every token is "about to expire", so each call renews.
  ServiceCredentials credentials(channel, "leads@service.crm.local",
                                 "leads-service-secret-0123456789", absl::Hours(1));
  std::set<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> token = credentials.AccessToken();
    ASSERT_TRUE(token.ok()) << token.status();
    tokens.insert(*token);
    auto caller = authenticator_->AuthenticateToken(*token);
    ASSERT_TRUE(caller.ok());
    EXPECT_EQ(caller->service, "leads");  // refreshed tokens keep the svc claim
  }
  EXPECT_EQ(tokens.size(), 3u);
  EXPECT_EQ(query(sign_ins), 1);  // then two refreshes

  // Deactivating the account revokes its refresh tokens: the next renewal
  // falls back to signing in, which a deactivated account cannot.
  DeactivateUserRequest deactivate;
  deactivate.set_id(leads_id);
  DeactivateUserResponse deactivated;
  ASSERT_TRUE(
      users_stub_->DeactivateUser(Context(AdminToken()).get(), deactivate, &deactivated).ok());
  EXPECT_EQ(credentials.AccessToken().status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, ChangesAndSignInsBecomeOutboxActivities) {
  const std::string admin_token = AdminToken();  // auth.sign_in_succeeded
  LoginResponse ignored;
  Login(kAdminEmail, "wrong-password-x", &ignored);  // auth.sign_in_failed
  const int64_t agent = Create("Agent", "agent@crm.local", ROLE_AGENT);
  // A refused duplicate writes no activity (its transaction rolled back).
  CreateUserRequest duplicate;
  duplicate.mutable_user()->set_name("Again");
  duplicate.mutable_user()->set_email("agent@crm.local");
  duplicate.mutable_user()->set_role(ROLE_AGENT);
  duplicate.set_password("password-123");
  CreateUserResponse refused;
  ASSERT_EQ(users_stub_->CreateUser(Context(admin_token).get(), duplicate, &refused).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  UpdateUserRequest promote;
  promote.mutable_user()->set_id(agent);
  promote.mutable_user()->set_role(ROLE_ADMIN);
  promote.mutable_update_mask()->add_paths("role");
  UpdateUserResponse promoted;
  ASSERT_TRUE(users_stub_->UpdateUser(Context(admin_token).get(), promote, &promoted).ok());
  ChangePasswordRequest change;
  change.set_user_id(agent);
  change.set_new_password("new-password-456");
  ChangePasswordResponse changed;
  ASSERT_TRUE(users_stub_->ChangePassword(Context(admin_token).get(), change, &changed).ok());
  DeactivateUserRequest deactivate;
  deactivate.set_id(agent);
  DeactivateUserResponse deactivated;
  ASSERT_TRUE(
      users_stub_->DeactivateUser(Context(admin_token).get(), deactivate, &deactivated).ok());

  std::vector<std::string> actions;
  std::string all_details;
  ASSERT_TRUE(pool_
                  ->Read([&](pqxx::nontransaction& tx) {
                    actions.clear();
                    all_details.clear();
                    for (const auto& row :
                         tx.exec("SELECT action, entity_id, details::text, service FROM outbox "
                                 "ORDER BY id")) {
                      actions.push_back(row[0].as<std::string>());
                      all_details += row[2].as<std::string>();
                      EXPECT_EQ(row[3].as<std::string>(), "auth");
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  // The bootstrap admin, then this test's activities, in the order they
  // happened (Create signs the admin in once more before creating).
  EXPECT_THAT(actions, ::testing::ElementsAre("user.created", "auth.sign_in_succeeded",
                                              "auth.sign_in_failed", "auth.sign_in_succeeded",
                                              "user.created", "user.role_changed",
                                              "user.password_changed", "user.deactivated"));
  EXPECT_THAT(all_details, HasSubstr(R"("role": {"new": "ADMIN", "old": "AGENT"})"));
  EXPECT_THAT(all_details, Not(HasSubstr("argon2")));
  EXPECT_THAT(all_details, Not(HasSubstr("password-123")));
}

TEST_F(AuthServiceTest, NoHashOrSecretInResponsesOrLogs) {
  std::string logs;
  log::CaptureForTesting(&logs);
  LoginResponse login;
  ASSERT_TRUE(Login(kAdminEmail, kAdminPassword, &login).ok());
  Login(kAdminEmail, "wrong-password-x", &login);
  ASSERT_TRUE(Login(kAdminEmail, kAdminPassword, &login).ok());
  const int64_t id = Create("Agent", "agent@crm.local", ROLE_AGENT, "agent-secret-77");
  GetUserResponse got;
  ASSERT_TRUE(GetUser(login.access_token(), id, &got).ok());
  ListUsersResponse listed;
  ASSERT_TRUE(users_stub_->ListUsers(Context(login.access_token()).get(), {}, &listed).ok());
  runner_->Stop();
  log::CaptureForTesting(nullptr);

  for (const std::string& wire :
       {login.SerializeAsString(), got.SerializeAsString(), listed.SerializeAsString()}) {
    EXPECT_THAT(wire, Not(HasSubstr("$argon2")));
  }
  for (const std::string& secret : {std::string(kAdminPassword), std::string("wrong-password-x"),
                                    std::string("agent-secret-77"), login.access_token(),
                                    login.refresh_token(), std::string("$argon2")}) {
    EXPECT_THAT(logs, Not(HasSubstr(secret)));
  }
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"sign-in\",\"outcome\":\"failed\""));
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"sign-in\",\"outcome\":\"succeeded\""));
}

}  // namespace
}  // namespace crm::auth
