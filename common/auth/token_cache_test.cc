#include "common/auth/token_cache.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Caller CallerUntil(absl::Time valid_until, int64_t user = 1) {
  return Caller{.user_id = user, .role = Role::kAgent, .service = "", .valid_until = valid_until};
}

TEST(VerifiedTokenCacheTest, FindsWhatWasInsertedUntilItExpires) {
  VerifiedTokenCache cache(100);
  cache.Insert("token-a", CallerUntil(kNow + absl::Minutes(1), 3), /*epoch=*/0, kNow);
  ASSERT_TRUE(cache.Find("token-a", kNow, 0).has_value());
  EXPECT_EQ(cache.Find("token-a", kNow, 0)->user_id, 3);
  EXPECT_TRUE(cache.Find("token-a", kNow + absl::Seconds(59), 0).has_value());
  EXPECT_FALSE(cache.Find("token-a", kNow + absl::Minutes(1), 0).has_value());
  EXPECT_EQ(cache.size(), 0);  // the stale entry went with the lookup
}

TEST(VerifiedTokenCacheTest, ComparesTheWholeToken) {
  VerifiedTokenCache cache(100);
  const std::string token = "header.claims.signature";
  cache.Insert(token, CallerUntil(kNow + absl::Minutes(1)), 0, kNow);
  EXPECT_FALSE(cache.Find("header.claims.signaturf", kNow, 0).has_value());
  EXPECT_FALSE(cache.Find("header.claims.", kNow, 0).has_value());
  EXPECT_FALSE(cache.Find(token + "x", kNow, 0).has_value());
  EXPECT_TRUE(cache.Find(token, kNow, 0).has_value());
}

TEST(VerifiedTokenCacheTest, AnotherKeyEpochIsAMiss) {
  VerifiedTokenCache cache(100);
  cache.Insert("t", CallerUntil(kNow + absl::Minutes(1)), /*epoch=*/4, kNow);
  EXPECT_FALSE(cache.Find("t", kNow, 5).has_value());
  EXPECT_FALSE(cache.Find("t", kNow, 4).has_value());  // removed by the stale lookup
}

TEST(VerifiedTokenCacheTest, AnExpiredTokenIsNotInserted) {
  VerifiedTokenCache cache(100);
  cache.Insert("t", CallerUntil(kNow), 0, kNow);
  EXPECT_EQ(cache.size(), 0);
}

TEST(VerifiedTokenCacheTest, StaysWithinItsCapacityPreferringToDropExpiredEntries) {
  VerifiedTokenCache cache(16);  // one entry per shard
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(absl::StrCat("token-", i), CallerUntil(kNow + absl::Minutes(1)), 0, kNow);
  }
  EXPECT_LE(cache.size(), 16);
  EXPECT_GT(cache.size(), 0);
  // Once everything has expired, new tokens push the old ones out.
  const absl::Time later = kNow + absl::Minutes(2);
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(absl::StrCat("late-", i), CallerUntil(later + absl::Minutes(1)), 0, later);
  }
  EXPECT_LE(cache.size(), 16);
  int found = 0;
  for (int i = 0; i < 1000; ++i) {
    found += cache.Find(absl::StrCat("late-", i), later, 0).has_value() ? 1 : 0;
  }
  EXPECT_EQ(found, cache.size());
}

// Calls of many sessions meet on the shards: every hit must be the caller that
// was inserted for that token, under contention and eviction alike (and the
// ThreadSanitizer build checks the shards' locking).
TEST(VerifiedTokenCacheTest, ConcurrentFindsAndInsertsKeepEachTokensCaller) {
  VerifiedTokenCache cache(64);  // fewer slots than tokens: inserts evict
  constexpr int kThreads = 4;
  constexpr int kTokens = 200;
  std::vector<std::thread> threads;
  std::vector<int> wrong(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&cache, &wrong, t] {
      for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < kTokens; ++i) {
          const int n = (i * 7 + t * 13) % kTokens;
          const std::string token = absl::StrCat("token-", n);
          const uint64_t epoch = round % 2;
          if (std::optional<Caller> hit = cache.Find(token, kNow, epoch)) {
            wrong[t] += hit->user_id == n ? 0 : 1;
          } else {
            cache.Insert(token, CallerUntil(kNow + absl::Minutes(1), n), epoch, kNow);
          }
        }
      }
      cache.size();
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
  }
  EXPECT_LE(cache.size(), 64);
}

TEST(VerifiedTokenCacheTest, CapacityZeroCachesNothing) {
  VerifiedTokenCache cache(0);
  cache.Insert("t", CallerUntil(kNow + absl::Minutes(1)), 0, kNow);
  EXPECT_FALSE(cache.Find("t", kNow, 0).has_value());
  EXPECT_EQ(cache.size(), 0);
}

}  // namespace
}  // namespace crm::auth
