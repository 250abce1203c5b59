#pragma once

// Throttling of password checks, per account and per client address, stored
// in `login_throttle` so it holds across replicas and restarts.
//
// An attempt is counted before its password is checked, in the same
// statement that reads the lock (Admit): one row-locking upsert per key, so
// concurrent guesses are serialised by PostgreSQL and at most `max_failures`
// of them per window are ever verified, however many arrive at once. A right
// password then clears the account's count (Succeeded); a wrong one locks a
// key that reached its limit (Failed); a check that did not happen gives the
// attempt back (Release).
//
// The activity log hears about failures without one row per guess: the
// first failure of a window and the lock are recorded at once, the failures
// between are folded into a count carried by the next activity for the
// account (the lock, a successful sign-in, the next window's first failure,
// or the purge of the expired row); throttled attempts record nothing.
// Counts never overlap: `failures` (auth.sign_in_failed, auth.sign_in_locked)
// and `failures_before` (auth.sign_in_succeeded) are the failures not
// reported before, so their sum over an account's activities is its number
// of failed attempts; the lock also carries `window_failures`, its window's
// total.
//
//   auto admission = throttle.Admit(email, client_address);
//   if (!admission->admitted) return Throttled(admission->retry_after);
//   if (password matches) throttle.Succeeded(*admission, user_id, "sign_in");
//   else                  throttle.Failed(*admission, user_id, "sign_in");

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/db/pool.h"

namespace crm::auth {

struct ThrottlePolicy {
  int max_failures = 10;
  absl::Duration window = absl::Minutes(15);
  absl::Duration base_lock = absl::Minutes(1);
  absl::Duration max_lock = absl::Hours(1);
};

struct SignInThrottleOptions {
  ThrottlePolicy account;
  // Offices share NAT addresses: a source gets many more.
  ThrottlePolicy source{.max_failures = 100};
};

// One counted attempt.
struct Admission {
  bool admitted = false;
  absl::Duration retry_after = absl::ZeroDuration();  // when refused
  std::string email;                                  // normalised
  std::string source;                                 // the client address
  int account_failures = 0;  // this attempt's number in the account's window
  int account_locks = 0;
  int source_failures = 0;
  int source_locks = 0;
};

class SignInThrottle {
 public:
  SignInThrottle(db::Pool* pool, SignInThrottleOptions options) : pool_(pool), options_(options) {}

  // The statements this class prepares on every pooled connection.
  static std::vector<db::PreparedStatement> Statements();

  // Counts an attempt on the account and the source, unless either is
  // locked (found by a read, so attempts on a locked key write nothing);
  // `admitted` is false when either is locked or already past its limit (a
  // lock is being decided), with the time to wait.
  absl::StatusOr<Admission> Admit(const std::string& email, const std::string& source);

  // After a wrong password: locks the keys that reached their limit, and
  // records the activity the folding rules call for. `via` says which RPC
  // checked the password ("sign_in", "change_password").
  absl::Status Failed(const Admission& admission, int64_t user_id, absl::string_view via);

  // After a right password: clears the account's count and gives the
  // source its attempt back; with `record_sign_in`, records
  // auth.sign_in_succeeded, carrying the failures folded since the last
  // report.
  absl::Status Succeeded(const Admission& admission, int64_t user_id, bool record_sign_in);

  // The password was not checked after all (the hasher was busy, the
  // database failed): gives the attempt back.
  absl::Status Release(const Admission& admission);

  // Deletes up to `batch` rows whose window and lock have both ended,
  // recording the failures they had folded; returns how many were deleted.
  absl::StatusOr<int> PurgeExpired(int batch);

  const SignInThrottleOptions& options() const { return options_; }

 private:
  db::Pool* const pool_;
  const SignInThrottleOptions options_;
};

// `statements` followed by SignInThrottle::Statements(), for the pool.
std::vector<db::PreparedStatement> WithThrottleStatements(
    std::vector<db::PreparedStatement> statements);

}  // namespace crm::auth
