#pragma once

// Password hashing with argon2id (libargon2) at OWASP's recommended minimum
// (m = 19 MiB, t = 2, p = 1), a random 16-byte salt per password, stored as
// a self-describing PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash")
// so parameters can be raised later and old hashes upgraded on sign-in.
//
// Each hash costs ~19 MiB and tens of milliseconds of CPU, so hashes run on
// a pool of their own: `max_concurrent` threads at a lower CPU priority
// (nice 10, best effort) and at most `max_queued` hashes waiting. When that
// is full, or more than `max_per_second` hashes were started in the last
// second, the caller gets RESOURCE_EXHAUSTED with a RetryInfo at once, so a
// flood of sign-ins can neither exhaust memory nor hold the workers (and
// the CPU and memory bandwidth) that every other RPC needs.

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/server/blocking_executor.h"

namespace crm::auth {

struct PasswordHasherOptions {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  int max_concurrent = 2;
  int max_queued = 2;
  // Hashes started per second at most, in bursts of as many (0: no limit).
  // Beyond what any brokerage signs in, far below what a flood asks for:
  // argon2 is memory-bound, so besides its threads each hash costs every
  // other process on the machine cache and memory bandwidth.
  double max_per_second = 0;
};

inline constexpr int kMinPasswordLength = 8;
inline constexpr int kMaxPasswordLength = 128;

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordHasherOptions options = {});

  // INVALID_ARGUMENT (naming `field`) unless 8..128 characters (code points).
  static absl::Status Validate(absl::string_view password, absl::string_view field);

  // Whether a hash counts against max_per_second: a sign-in's does (anyone
  // may ask for one, as fast as they like); an authenticated caller's
  // (CreateUser, ChangePassword, a re-hash after sign-in) and start-up's do
  // not, and are bounded by the pool and the account throttle instead.
  enum class Budget { kSignIn, kExempt };

  absl::StatusOr<std::string> Hash(absl::string_view password, Budget budget = Budget::kExempt);

  // OK(true) on a match. Hashes in an unknown format never match.
  absl::StatusOr<bool> Verify(absl::string_view password, const std::string& encoded,
                              Budget budget = Budget::kExempt);

  // Burns the same time as Verify against a real hash, for unknown users, so
  // timing does not reveal whether an email exists. Counted as a sign-in.

  absl::Status VerifyDummy(absl::string_view password);

  // Whether a sign-in's hash asked for now would be refused: lets it be
  // turned away before any other work is spent on it.
  bool Saturated() const { return pool_.Full() || !HasBudget(); }
  // The answer when it is: RESOURCE_EXHAUSTED with a RetryInfo.
  static absl::Status Busy();

  // True when `encoded` was made with other parameters than the current ones.
  bool NeedsRehash(const std::string& encoded) const;

 private:
  // Runs `kdf` on the pool and waits for it; RESOURCE_EXHAUSTED when full
  // or out of budget.
  absl::Status RunOnPool(absl::FunctionRef<void()> kdf, Budget budget);
  // The token bucket of max_per_second.
  bool HasBudget() const;
  bool TakeBudget();
  // The bucket's tokens at `now`: refilled at the rate, capped at the burst.
  double TokensAt(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(budget_mu_);

  const PasswordHasherOptions options_;
  const std::string parameters_prefix_;  // "$argon2id$v=19$m=...,t=...,p=...$"
  server::BlockingExecutor pool_;
  std::string dummy_hash_;

  mutable absl::Mutex budget_mu_;
  double tokens_ ABSL_GUARDED_BY(budget_mu_);
  absl::Time refilled_ ABSL_GUARDED_BY(budget_mu_);
};

}  // namespace crm::auth
