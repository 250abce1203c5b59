#pragma once

// Password hashing with argon2id (libargon2) at OWASP's recommended minimum
// (m = 19 MiB, t = 2, p = 1), a random 16-byte salt per password, stored as
// a self-describing PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash")
// so parameters can be raised later and old hashes upgraded on sign-in.
//
// Each hash costs ~19 MiB and tens of milliseconds of CPU, so at most
// `max_concurrent` run at once; a caller that cannot get a slot within
// `max_wait` gets RESOURCE_EXHAUSTED instead of queueing forever. A flood of
// sign-ins thus cannot exhaust memory or starve other RPCs.

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::auth {

struct PasswordHasherOptions {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  int max_concurrent = 2;
  absl::Duration max_wait = absl::Seconds(2);
};

inline constexpr int kMinPasswordLength = 8;
inline constexpr int kMaxPasswordLength = 128;

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordHasherOptions options = {});

  // INVALID_ARGUMENT (naming `field`) unless 8..128 characters (code points).
  static absl::Status Validate(absl::string_view password, absl::string_view field);

  absl::StatusOr<std::string> Hash(absl::string_view password);

  // OK(true) on a match. Hashes in an unknown format never match.
  absl::StatusOr<bool> Verify(absl::string_view password, const std::string& encoded);

  // Burns the same time as Verify against a real hash, for unknown users, so
  // timing does not reveal whether an email exists.
  absl::Status VerifyDummy(absl::string_view password);

  // True when `encoded` was made with other parameters than the current ones.
  bool NeedsRehash(const std::string& encoded) const;

 private:
  absl::Status AcquireSlot();
  void ReleaseSlot();
  bool SlotFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PasswordHasherOptions options_;
  const std::string parameters_prefix_;  // "$argon2id$v=19$m=...,t=...,p=...$"
  std::string dummy_hash_;
  absl::Mutex mu_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crm::auth
