#include "common/auth/token_cache.h"

#include "absl/hash/hash.h"

namespace crm::auth {

VerifiedTokenCache::VerifiedTokenCache(int capacity)
    : per_shard_(capacity <= 0 ? 0 : static_cast<size_t>((capacity + kShards - 1) / kShards)) {}

VerifiedTokenCache::Shard& VerifiedTokenCache::ShardFor(absl::string_view token) {
  // The map hashes again with its own seed; this one only spreads the shards.
  return shards_[absl::Hash<absl::string_view>{}(token) % kShards];
}

std::optional<Caller> VerifiedTokenCache::Find(absl::string_view token, absl::Time now,
                                               uint64_t epoch) {
  if (per_shard_ == 0) {
    return std::nullopt;
  }
  Shard& shard = ShardFor(token);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(token);
  if (it == shard.entries.end()) {
    return std::nullopt;
  }
  if (it->second.epoch != epoch || now >= it->second.caller.valid_until) {
    shard.entries.erase(it);
    return std::nullopt;
  }
  return it->second.caller;
}

void VerifiedTokenCache::Insert(absl::string_view token, const Caller& caller, uint64_t epoch,
                                absl::Time now) {
  if (per_shard_ == 0 || now >= caller.valid_until) {
    return;
  }
  Shard& shard = ShardFor(token);
  absl::MutexLock lock(&shard.mu);
  if (shard.entries.size() >= per_shard_ && !shard.entries.contains(token)) {
    absl::erase_if(shard.entries,
                   [now](const auto& entry) { return now >= entry.second.caller.valid_until; });
    if (shard.entries.size() >= per_shard_) {
      shard.entries.erase(shard.entries.begin());
    }
  }
  shard.entries.insert_or_assign(std::string(token), Entry{.caller = caller, .epoch = epoch});
}

int VerifiedTokenCache::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.entries.size();
  }
  return static_cast<int>(total);
}

}  // namespace crm::auth
