#include "services/auth/password_hasher.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "services/auth/user_validation.h"

namespace crm::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

}  // namespace

namespace {

// Sign-ins yield the CPU to every other call: a flood of them slows sign-ins,
// not the service. Raising the nice value needs no privilege.
void LowerThisThreadsPriority() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10) != 0) {
    log::Warning("cannot lower the password hashing threads' priority")
        .Str("error", std::strerror(errno));
  }
}

}  // namespace

PasswordHasher::PasswordHasher(PasswordHasherOptions options)
    : options_(options),
      parameters_prefix_(absl::StrCat("$argon2id$v=19$m=", options.memory_kib,
                                      ",t=", options.iterations, ",p=", options.parallelism, "$")),
      // A task waits in the queue even when a thread is idle: at least 1.
      pool_(std::max(1, options.max_concurrent), std::max(1, options.max_queued),
            LowerThisThreadsPriority),
      tokens_(std::max(1.0, options.max_per_second)),
      refilled_(absl::Now()) {
  // A hash of a random password for VerifyDummy: same parameters, same cost.
  // Only its cost matters (its answer is never used), so a failing generator
  // is logged, not fatal.
  std::string random(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()),
                 static_cast<int>(random.size())) != 1) {
    log::Error("the random number generator failed; the dummy hash is not random");
  }
  absl::StatusOr<std::string> dummy = Hash(absl::StrCat("dummy-", random));
  if (dummy.ok()) {
    dummy_hash_ = *dummy;
  }
}

absl::Status PasswordHasher::Validate(absl::string_view password, absl::string_view field) {
  const int length = CodePoints(password);
  if (length < kMinPasswordLength || length > kMaxPasswordLength) {
    return InvalidArgumentError(field, absl::StrCat("must be ", kMinPasswordLength, " to ",
                                                    kMaxPasswordLength, " characters"));
  }
  return absl::OkStatus();
}

absl::Status PasswordHasher::Busy() {
  return WithRetryDelay(absl::ResourceExhaustedError("too many sign-ins in progress; retry"),
                        absl::Seconds(1));
}

bool PasswordHasher::HasBudget() const {
  if (options_.max_per_second <= 0) {
    return true;
  }
  absl::MutexLock lock(&budget_mu_);
  return TokensAt(absl::Now()) >= 1;
}

double PasswordHasher::TokensAt(absl::Time now) const {
  return std::min(std::max(1.0, options_.max_per_second),
                  tokens_ + absl::ToDoubleSeconds(now - refilled_) * options_.max_per_second);
}

bool PasswordHasher::TakeBudget() {
  if (options_.max_per_second <= 0) {
    return true;
  }
  absl::MutexLock lock(&budget_mu_);
  const absl::Time now = absl::Now();
  tokens_ = TokensAt(now);
  refilled_ = now;
  if (tokens_ < 1) {
    return false;
  }
  tokens_ -= 1;
  return true;
}

absl::Status PasswordHasher::RunOnPool(absl::FunctionRef<void()> kdf, Budget budget) {
  absl::Notification done;
  if (budget == Budget::kSignIn && !TakeBudget()) {
    return Busy();
  }
  if (!pool_.TrySubmit([&kdf, &done] {
        kdf();
        done.Notify();
      })) {
    return Busy();
  }
  done.WaitForNotification();
  return absl::OkStatus();
}

absl::StatusOr<std::string> PasswordHasher::Hash(absl::string_view password, Budget budget) {
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return absl::InternalError("random generator failed");
  }
  const size_t encoded_len =
      argon2_encodedlen(options_.iterations, options_.memory_kib, options_.parallelism, kSaltBytes,
                        kHashBytes, Argon2_id);
  std::vector<char> encoded(encoded_len);
  int rc = ARGON2_OK;
  if (absl::Status run = RunOnPool(
          [&] {
            rc = argon2id_hash_encoded(options_.iterations, options_.memory_kib,
                                       options_.parallelism, password.data(), password.size(), salt,
                                       sizeof(salt), kHashBytes, encoded.data(), encoded.size());
          },
          budget);
      !run.ok()) {
    return run;
  }
  if (rc != ARGON2_OK) {
    return absl::InternalError("password hashing failed");
  }
  return std::string(encoded.data());
}

absl::StatusOr<bool> PasswordHasher::Verify(absl::string_view password, const std::string& encoded,
                                            Budget budget) {
  if (!absl::StartsWith(encoded, "$argon2id$")) {
    return false;
  }
  int rc = ARGON2_OK;
  if (absl::Status run = RunOnPool(
          [&] { rc = argon2id_verify(encoded.c_str(), password.data(), password.size()); }, budget);
      !run.ok()) {
    return run;
  }
  return rc == ARGON2_OK;
}

absl::Status PasswordHasher::VerifyDummy(absl::string_view password) {
  absl::StatusOr<bool> ignored = Verify(password, dummy_hash_, Budget::kSignIn);
  return ignored.status();
}

bool PasswordHasher::NeedsRehash(const std::string& encoded) const {
  return !absl::StartsWith(encoded, parameters_prefix_);
}

}  // namespace crm::auth
