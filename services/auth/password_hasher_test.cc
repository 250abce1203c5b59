#include "services/auth/password_hasher.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

TEST(PasswordHasherTest, HashesAreSaltedPhcStringsThatVerify) {
  PasswordHasher hasher;
  auto a = hasher.Hash("correct horse battery staple");
  auto b = hasher.Hash("correct horse battery staple");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *a;
  EXPECT_NE(*a, *b);  // per-password salt
  EXPECT_TRUE(*hasher.Verify("correct horse battery staple", *a));
  EXPECT_FALSE(*hasher.Verify("correct horse battery stapler", *a));
  EXPECT_FALSE(*hasher.Verify("anything", "plaintext-not-a-hash"));
}

TEST(PasswordHasherTest, LengthLimitsCountCharactersWithoutTruncation) {
  EXPECT_FALSE(PasswordHasher::Validate(std::string(7, 'a'), "password").ok());
  EXPECT_TRUE(PasswordHasher::Validate(std::string(8, 'a'), "password").ok());
  EXPECT_TRUE(PasswordHasher::Validate(std::string(128, 'a'), "password").ok());
  EXPECT_EQ(PasswordHasher::Validate(std::string(129, 'a'), "password").code(),
            absl::StatusCode::kInvalidArgument);
  // 8 two-byte characters are 8 characters.
  std::string umlauts;
  for (int i = 0; i < 8; ++i) {
    umlauts += "\xc3\xa4";
  }
  EXPECT_TRUE(PasswordHasher::Validate(umlauts, "password").ok());
  // No truncation: passwords differing only after 72 bytes (bcrypt's limit) differ.
  PasswordHasher hasher;
  const std::string base(100, 'x');
  auto hash = hasher.Hash(base + "1");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(*hasher.Verify(base + "2", *hash));
}

TEST(PasswordHasherTest, NeedsRehashWhenParametersChange) {
  PasswordHasher weak({.memory_kib = 4096, .iterations = 1});
  PasswordHasher strong;
  auto hash = weak.Hash("password123");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(strong.NeedsRehash(*hash));
  EXPECT_FALSE(weak.NeedsRehash(*hash));
  EXPECT_TRUE(*strong.Verify("password123", *hash));  // old hashes still verify
}

TEST(PasswordHasherTest, AFullPoolAnswersResourceExhaustedAtOnce) {
  // One thread, one waiting: of six at once, at least four are refused, and
  // without waiting for the hashes ahead of them.
  PasswordHasher hasher({.max_concurrent = 1, .max_queued = 1});
  std::vector<std::thread> threads;
  std::atomic<int> exhausted{0};
  std::atomic<int> hashed{0};
  std::atomic<int64_t> slowest_refusal_us{0};
  absl::Duration one_hash = absl::ZeroDuration();
  {
    const absl::Time start = absl::Now();
    ASSERT_TRUE(hasher.Hash("password123").ok());
    one_hash = absl::Now() - start;
  }
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      const absl::Time start = absl::Now();
      auto hash = hasher.Hash("password123");
      if (hash.status().code() == absl::StatusCode::kResourceExhausted) {
        ++exhausted;
        const int64_t us = absl::ToInt64Microseconds(absl::Now() - start);
        int64_t seen = slowest_refusal_us.load();
        while (us > seen && !slowest_refusal_us.compare_exchange_weak(seen, us)) {
        }
      } else if (hash.ok()) {
        ++hashed;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_GE(exhausted.load(), 4 - 1);  // a hash may finish while the others arrive
  EXPECT_GE(hashed.load(), 1);
  EXPECT_EQ(exhausted.load() + hashed.load(), 6);
  // Refusals do not queue behind the hashes: each takes far less than one.
  EXPECT_LT(absl::Microseconds(slowest_refusal_us.load()), one_hash);
}

// A flood's hashes are bounded per second too, whatever the threads: each
// costs the whole machine memory bandwidth. Only sign-ins are counted.
TEST(PasswordHasherTest, ABudgetBoundsSignInHashesPerSecond) {
  PasswordHasher hasher({.memory_kib = 1024,
                         .iterations = 1,
                         .max_concurrent = 4,
                         .max_queued = 4,
                         .max_per_second = 2});
  absl::StatusOr<std::string> hash = hasher.Hash("password123");  // exempt
  ASSERT_TRUE(hash.ok());
  const auto sign_in = PasswordHasher::Budget::kSignIn;
  EXPECT_TRUE(hasher.Verify("password123", *hash, sign_in).ok());
  EXPECT_TRUE(hasher.VerifyDummy("password123").ok());
  EXPECT_TRUE(hasher.Saturated());
  EXPECT_EQ(hasher.Verify("password123", *hash, sign_in).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(hasher.VerifyDummy("password123").code(), absl::StatusCode::kResourceExhausted);
  // An authenticated caller's hashes are not a sign-in's.
  EXPECT_TRUE(hasher.Hash("password123").ok());
  EXPECT_TRUE(*hasher.Verify("password123", *hash));
  // The bucket refills at the rate: half a second buys one more.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (hasher.Saturated() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(hasher.Verify("password123", *hash, sign_in).ok());
}

}  // namespace
}  // namespace crm::auth
