#pragma once

// The access tokens an Authenticator has already verified, so that a token
// presented again (every call of a session carries the same one) costs a
// hash lookup instead of an Ed25519 verification (~100 µs of CPU).
//
//   VerifiedTokenCache cache(/*capacity=*/10000);
//   if (std::optional<Caller> hit = cache.Find(token, now, epoch)) return *hit;
//   ... verify the token ...
//   cache.Insert(token, caller, epoch_read_before_verifying);
//
// Keyed by the whole token text and compared byte for byte, so a forged token
// that copies a genuine one's header and claims but not its signature never
// matches its entry. Only tokens that passed verification are inserted.
//
// An entry answers until the earlier of its token's expiry
// (Caller::valid_until) and a change of the key epoch it was verified under:
// the Authenticator bumps the epoch whenever a refresh drops a key, and every
// older entry is then verified again on its next use (a key still published
// passes; a dropped one fails).
//
// Bounded: at capacity a shard drops its expired entries, then arbitrary ones.
// Every entry is a token somebody holds legitimately, so nobody can flood the
// cache with junk to evict others cheaply. Thread-safe; sharded so that
// concurrent calls rarely meet on one lock.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"

namespace crm::auth {

class VerifiedTokenCache {
 public:
  // At most `capacity` tokens (0 disables the cache: Find never hits).
  explicit VerifiedTokenCache(int capacity);
  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // The caller `token` was verified as, if it was verified under `epoch` and
  // is still valid at `now`; a stale entry is removed.
  std::optional<Caller> Find(absl::string_view token, absl::Time now, uint64_t epoch);

  // Remembers a verified token. `epoch` is the key epoch read before the
  // verification started, so a key dropped meanwhile leaves the entry stale.
  void Insert(absl::string_view token, const Caller& caller, uint64_t epoch, absl::Time now);

  int size() const;

 private:
  struct Entry {
    Caller caller;
    uint64_t epoch = 0;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  };
  static constexpr int kShards = 16;

  Shard& ShardFor(absl::string_view token);

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace crm::auth
