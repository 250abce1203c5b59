#include "common/auth/authenticator.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/auth/jwt.h"
#include "gmock/gmock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/test/server_context_test_spouse.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

// Keys as auth would publish them, changed by the test at will; a fetch can
// be made to hang until released.
class TestKeySource final : public KeySource {
 public:
  absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() override {
    absl::MutexLock lock(&mu_);
    ++fetches_;
    mu_.Await(absl::Condition(
        +[](bool* hang) { return !*hang; }, &hang_));
    if (!fail_.ok()) {
      return fail_;
    }
    return keys_;
  }
  void Publish(std::vector<Ed25519PublicKey> keys) {
    absl::MutexLock lock(&mu_);
    keys_ = std::move(keys);
  }
  void Hang(bool hang) {
    absl::MutexLock lock(&mu_);
    hang_ = hang;
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int fetches() {
    absl::MutexLock lock(&mu_);
    return fetches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Ed25519PublicKey> keys_ ABSL_GUARDED_BY(mu_);
  bool hang_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest()
      : key_(*Ed25519PrivateKey::Generate()), other_(*Ed25519PrivateKey::Generate()) {
    source_->Publish({key_.public_key()});
  }

  // The authenticator under test; its clock is `now_` (tokens are checked
  // against it), while key fetching runs on real time.
  void Start(AuthenticatorOptions options = {}) {
    options.clock = [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
    authenticator_ = std::make_unique<Authenticator>(std::move(owned_source_), std::move(options));
    WaitForFetches(1);
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }

  void WaitForFetches(int64_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (authenticator_->stats().key_fetches < n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    ASSERT_GE(authenticator_->stats().key_fetches, n);
  }

  std::string Token(const Ed25519PrivateKey& key, int64_t user = 7,
                    absl::Duration lifetime = absl::Minutes(10)) {
    absl::Time now;
    {
      absl::MutexLock lock(&clock_mu_);
      now = now_;
    }
    return SignAccessToken({.issuer = "crm-auth",
                            .audience = "crm",
                            .subject = user,
                            .role = "AGENT",
                            .issued_at = now,
                            .expires_at = now + lifetime,
                            .jwt_id = absl::StrCat("jti-", ++serial_),
                            .service = ""},
                           key);
  }

  absl::StatusCode Code(const std::string& token) {
    return authenticator_->AuthenticateToken(token, absl::Now() + absl::Seconds(5)).status().code();
  }

  Ed25519PrivateKey key_;
  Ed25519PrivateKey other_;
  std::unique_ptr<TestKeySource> owned_source_ = std::make_unique<TestKeySource>();
  TestKeySource* const source_ = owned_source_.get();
  absl::Mutex clock_mu_;
  absl::Time now_ ABSL_GUARDED_BY(clock_mu_) = absl::FromUnixSeconds(1'800'000'000);
  int serial_ = 0;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(AuthenticatorTest, AVerifiedTokenIsNotVerifiedAgain) {
  Start();
  const std::string token = Token(key_, 42);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Caller> caller = authenticator_->AuthenticateToken(token);
    ASSERT_TRUE(caller.ok()) << caller.status();
    EXPECT_EQ(caller->user_id, 42);
    EXPECT_EQ(caller->role, Role::kAgent);
  }
  const AuthenticatorStats stats = authenticator_->stats();
  EXPECT_EQ(stats.verifications, 1);
  EXPECT_EQ(stats.cache_hits, 4);
  EXPECT_EQ(stats.cached_tokens, 1);
}

TEST_F(AuthenticatorTest, ACachedTokenPastItsExpiryIsRefused) {
  Start({.clock_skew = absl::Seconds(30)});
  const std::string token = Token(key_, 7, absl::Minutes(2));
  ASSERT_EQ(Code(token), absl::StatusCode::kOk);
  // Still inside exp + the allowed skew: the cache answers.
  Advance(absl::Minutes(2) + absl::Seconds(29));
  EXPECT_EQ(Code(token), absl::StatusCode::kOk);
  EXPECT_EQ(authenticator_->stats().verifications, 1);
  Advance(absl::Seconds(1));
  EXPECT_EQ(Code(token), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authenticator_->stats().cached_tokens, 0);
}

TEST_F(AuthenticatorTest, ATokenWhoseKeyIsDroppedIsRefusedAtTheNextRefresh) {
  Start({.key_ttl = absl::Milliseconds(50)});
  const std::string token = Token(key_);
  ASSERT_EQ(Code(token), absl::StatusCode::kOk);
  // Auth rotates: the old key leaves its published set.
  source_->Publish({other_.public_key()});
  const int64_t fetched = authenticator_->stats().key_fetches;
  WaitForFetches(fetched + 1);
  EXPECT_EQ(Code(token), absl::StatusCode::kUnauthenticated);
  // Tokens of the key still published keep working, and are cached again.
  const std::string fresh = Token(other_);
  EXPECT_EQ(Code(fresh), absl::StatusCode::kOk);
  EXPECT_EQ(Code(fresh), absl::StatusCode::kOk);
}

TEST_F(AuthenticatorTest, AKeyStillPublishedKeepsItsTokensAcrossARefresh) {
  Start({.key_ttl = absl::Milliseconds(20)});
  const std::string token = Token(key_);
  ASSERT_EQ(Code(token), absl::StatusCode::kOk);
  source_->Publish({key_.public_key(), other_.public_key()});
  WaitForFetches(authenticator_->stats().key_fetches + 2);
  EXPECT_EQ(Code(token), absl::StatusCode::kOk);
  // Adding a key drops nothing, so the entry stayed valid.
  EXPECT_EQ(authenticator_->stats().verifications, 1);
}

TEST_F(AuthenticatorTest, AForgedSignatureIsRefusedWhileTheGenuineTokenIsCached) {
  Start();
  const std::string genuine = Token(key_, 5);
  ASSERT_EQ(Code(genuine), absl::StatusCode::kOk);
  // Same header and claims; the signature of another key over them.
  const std::string signing_input = genuine.substr(0, genuine.rfind('.'));
  const std::string forged =
      absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(other_.Sign(signing_input)));
  ASSERT_NE(forged, genuine);
  ASSERT_EQ(forged.size(), genuine.size());
  EXPECT_EQ(Code(forged), absl::StatusCode::kUnauthenticated);
  // A refused token is not remembered as good: it is checked every time.
  EXPECT_EQ(Code(forged), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authenticator_->stats().verifications, 3);
  // A token that is a prefix of the genuine one does not match it either.
  EXPECT_EQ(Code(genuine.substr(0, genuine.size() - 1)), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(genuine), absl::StatusCode::kOk);
  EXPECT_EQ(authenticator_->stats().cached_tokens, 1);
}

TEST_F(AuthenticatorTest, AnUnseenKidWaitsForOneFetchWithinTheDeadline) {
  Start({.min_refetch_interval = absl::ZeroDuration()});
  // Auth rotates to a key this service has not fetched yet.
  source_->Publish({key_.public_key(), other_.public_key()});
  const std::string token = Token(other_);
  absl::StatusOr<Caller> caller =
      authenticator_->AuthenticateToken(token, absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(authenticator_->stats().key_fetches, 2);

  // A fetch that hangs is waited for only until the call's deadline.
  const std::string unseen = Token(*Ed25519PrivateKey::Generate());
  source_->Hang(true);
  const absl::Time start = absl::Now();
  EXPECT_EQ(
      authenticator_->AuthenticateToken(unseen, start + absl::Milliseconds(100)).status().code(),
      absl::StatusCode::kUnauthenticated);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(90));
  EXPECT_LT(waited, absl::Seconds(2));
  source_->Hang(false);
}

TEST_F(AuthenticatorTest, ARefreshNeverBlocksACallThatHasAUsableKey) {
  Start({.key_ttl = absl::Milliseconds(10)});
  const std::string cached = Token(key_, 1);
  ASSERT_EQ(Code(cached), absl::StatusCode::kOk);
  source_->Hang(true);  // the next periodic refresh hangs inside FetchKeys
  const int fetches = source_->fetches();
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (source_->fetches() == fetches && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_GT(source_->fetches(), fetches);
  const absl::Time start = absl::Now();
  EXPECT_EQ(Code(cached), absl::StatusCode::kOk);
  // A token never seen, signed by a known key, is verified without waiting.
  EXPECT_EQ(Code(Token(key_, 2)), absl::StatusCode::kOk);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  source_->Hang(false);
}

TEST_F(AuthenticatorTest, TryAuthenticateNeverWaitsForKeys) {
  Start();
  const auto try_with = [this](const std::string& header) {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse(&context);  // owns the metadata: keep it
    spouse.AddClientMetadata("authorization", header);
    return authenticator_->TryAuthenticate(context);
  };
  const std::string known = Token(key_, 9);
  std::optional<absl::StatusOr<Caller>> answer = try_with("Bearer " + known);
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_EQ((*answer)->user_id, 9);
  // Refusals need no key: answered at once.
  answer = try_with("Bearer not-a-token");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status().code(), absl::StatusCode::kUnauthenticated);
  answer = try_with("Basic abc");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status().code(), absl::StatusCode::kUnauthenticated);
  // A kid never fetched: only a fetch can tell, so no answer, and no wait.
  const int fetches = source_->fetches();
  source_->Hang(true);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(try_with("Bearer " + Token(other_)).has_value());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_EQ(source_->fetches(), fetches);
  source_->Hang(false);
}

TEST_F(AuthenticatorTest, RandomKidsCannotHammerAuth) {
  Start({.min_refetch_interval = absl::Minutes(1)});
  const int before = source_->fetches();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Code(Token(*Ed25519PrivateKey::Generate())), absl::StatusCode::kUnauthenticated);
  }
  // The start-up fetch was just now: no other fetch within the interval.
  EXPECT_EQ(source_->fetches(), before);
}

TEST_F(AuthenticatorTest, KeysStayTrustedWhileAuthIsDown) {
  Start({.min_refetch_interval = absl::Milliseconds(5), .key_ttl = absl::Milliseconds(5)});
  source_->Fail(absl::UnavailableError("auth down"));
  WaitForFetches(authenticator_->stats().key_fetches + 2);
  EXPECT_EQ(Code(Token(key_)), absl::StatusCode::kOk);
}

TEST_F(AuthenticatorTest, TheCacheIsBounded) {
  Start({.token_cache_size = 32});
  std::vector<std::string> tokens;
  for (int i = 1; i <= 100; ++i) {
    tokens.push_back(Token(key_, i));
    ASSERT_EQ(Code(tokens.back()), absl::StatusCode::kOk);
  }
  EXPECT_LE(authenticator_->stats().cached_tokens, 32 + 15);  // rounded up per shard
  // Evicted tokens are verified again, not refused.
  for (const std::string& token : tokens) {
    EXPECT_EQ(Code(token), absl::StatusCode::kOk);
  }
}

TEST_F(AuthenticatorTest, ACacheOfZeroVerifiesEveryCall) {
  Start({.token_cache_size = 0});
  const std::string token = Token(key_);
  EXPECT_EQ(Code(token), absl::StatusCode::kOk);
  EXPECT_EQ(Code(token), absl::StatusCode::kOk);
  EXPECT_EQ(authenticator_->stats().verifications, 2);
  EXPECT_EQ(authenticator_->stats().cache_hits, 0);
}

}  // namespace
}  // namespace crm::auth
