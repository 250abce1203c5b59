#include "services/auth/sign_in_throttle.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log/log.h"
#include "common/outbox/details_json.h"
#include "common/outbox/outbox.h"
#include "nlohmann/json.hpp"

namespace crm::auth {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kService = "auth";
constexpr absl::string_view kAccountPrefix = "account:";
constexpr absl::string_view kSourcePrefix = "peer:";

// Refused for a reason other than a lock: the key is past its limit while
// the attempt that reached it is still being checked.
constexpr absl::Duration kPendingLockRetry = absl::Seconds(1);

absl::Duration LockFor(const ThrottlePolicy& policy, int locks_so_far) {
  return std::min(policy.base_lock * (1 << std::min(locks_so_far, 10)), policy.max_lock);
}

std::string AccountKey(absl::string_view email) { return absl::StrCat(kAccountPrefix, email); }
std::string SourceKey(absl::string_view source) { return absl::StrCat(kSourcePrefix, source); }

absl::Status RecordActivity(pqxx::transaction_base& tx, int64_t user_id, absl::string_view action,
                            const json& details) {
  return outbox::Record(tx, kService,
                        outbox::Activity{.actor_user_id = user_id,
                                         .action = std::string(action),
                                         .entity_type = user_id != 0 ? "user" : "",
                                         .entity_id = user_id,
                                         .details_json = outbox::DetailsJson(details)});
}

}  // namespace

std::vector<db::PreparedStatement> SignInThrottle::Statements() {
  return {
      // One row-locking statement counts the attempt and reads the lock.
      // While locked nothing changes. A window that ended starts a new one;
      // its unreported failures are carried by making reported_failures
      // negative (unreported = failures - reported_failures throughout). A
      // lock count older than an hour of quiet is forgotten.
      {"throttle_admit",
       "INSERT INTO login_throttle AS t (key, failures, window_start, last_peer) "
       "VALUES ($1, 1, now(), $3) "
       "ON CONFLICT (key) DO UPDATE SET "
       "  failures = CASE WHEN t.locked_until > now() THEN t.failures "
       "    WHEN t.window_start < now() - make_interval(secs => $2) THEN 1 "
       "    ELSE t.failures + 1 END, "
       "  reported_failures = CASE WHEN t.locked_until > now() THEN t.reported_failures "
       "    WHEN t.window_start < now() - make_interval(secs => $2) "
       "      THEN t.reported_failures - t.failures "
       "    ELSE t.reported_failures END, "
       "  window_start = CASE WHEN t.locked_until > now() THEN t.window_start "
       "    WHEN t.window_start < now() - make_interval(secs => $2) THEN now() "
       "    ELSE t.window_start END, "
       "  lock_count = CASE WHEN t.window_start < now() - interval '1 hour' THEN 0 "
       "    ELSE t.lock_count END, "
       "  last_peer = CASE WHEN t.locked_until > now() THEN t.last_peer ELSE $3 END "
       "RETURNING failures, lock_count, "
       "  COALESCE(GREATEST(extract(epoch FROM locked_until - now()), 0), 0)::float8"},
      // Whether either key is locked, read without a write: a flood against
      // a locked account or address costs one read per attempt, no row
      // version and no row lock.
      {"throttle_locked",
       "SELECT COALESCE(max(extract(epoch FROM locked_until - now())), 0)::float8 "
       "FROM login_throttle WHERE key IN ($1, $2) AND locked_until > now()"},
      // Unreported failures, read under the row lock before a report.
      {"throttle_unreported",
       "SELECT failures - reported_failures FROM login_throttle WHERE key = $1 FOR UPDATE"},
      {"throttle_reported",
       "UPDATE login_throttle SET reported_failures = reported_failures + $2 WHERE key = $1"},
      {"throttle_lock",
       "UPDATE login_throttle SET failures = 0, reported_failures = 0, window_start = now(), "
       "lock_count = lock_count + 1, locked_until = now() + make_interval(secs => $2) "
       "WHERE key = $1"},
      {"throttle_clear",
       "DELETE FROM login_throttle WHERE key = $1 RETURNING failures - reported_failures"},
      // Gives an attempt back, unless a lock has been decided since.
      {"throttle_release",
       "UPDATE login_throttle SET failures = GREATEST(failures - 1, 0) "
       "WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())"},
      // Rows whose window and lock both ended, a batch at a time, with what
      // their accounts had left unreported.
      {"throttle_purge",
       "WITH gone AS ("
       "  DELETE FROM login_throttle WHERE key IN ("
       "    SELECT key FROM login_throttle "
       "    WHERE window_start < now() - make_interval(secs => $1) "
       "      AND (locked_until IS NULL OR locked_until < now()) "
       "    ORDER BY window_start LIMIT $2 FOR UPDATE SKIP LOCKED) "
       "  RETURNING key, failures - reported_failures AS unreported, last_peer) "
       "SELECT g.key, g.unreported, g.last_peer, COALESCE(u.id, 0) "
       "FROM gone g LEFT JOIN users u ON g.key = 'account:' || u.email"},
  };
}

std::vector<db::PreparedStatement> WithThrottleStatements(
    std::vector<db::PreparedStatement> statements) {
  for (db::PreparedStatement& s : SignInThrottle::Statements()) {
    statements.push_back(std::move(s));
  }
  return statements;
}

absl::StatusOr<Admission> SignInThrottle::Admit(const std::string& email,
                                                const std::string& source) {
  Admission admission{.email = email, .source = source};
  const std::string account_key = AccountKey(email);
  const std::string source_key = SourceKey(source);
  // A lock seen here refuses at once; the upsert below stays the authority
  // (a lock set meanwhile is seen there).
  double locked = 0;
  if (absl::Status read = pool_->Read([&](pqxx::nontransaction& tx) {
        locked = tx.exec_prepared1("throttle_locked", account_key, source_key)[0].as<double>();
        return absl::OkStatus();
      });
      !read.ok()) {
    return read;
  }
  if (locked > 0) {
    admission.retry_after = absl::Seconds(locked);
    return admission;
  }
  // A refused attempt rolls back its counts: the callback returns an error
  // and says that it was a refusal, not a failure.
  bool refused = false;
  auto refuse = [&refused] {
    refused = true;
    return absl::AbortedError("refused");
  };
  absl::Status status = pool_->Transact([&](pqxx::work& tx) {
    refused = false;
    admission.retry_after = absl::ZeroDuration();
    // The account first, always: one lock order, so attempts never deadlock.
    const pqxx::row account = tx.exec_prepared1(
        "throttle_admit", account_key, absl::ToDoubleSeconds(options_.account.window), source);
    admission.account_failures = account[0].as<int>();
    admission.account_locks = account[1].as<int>();
    if (const double locked = account[2].as<double>(); locked > 0) {
      admission.retry_after = absl::Seconds(locked);
      return refuse();
    }
    const pqxx::row peer = tx.exec_prepared1("throttle_admit", source_key,
                                             absl::ToDoubleSeconds(options_.source.window), source);
    admission.source_failures = peer[0].as<int>();
    admission.source_locks = peer[1].as<int>();
    if (const double locked = peer[2].as<double>(); locked > 0) {
      admission.retry_after = absl::Seconds(locked);
      return refuse();
    }
    if (admission.account_failures > options_.account.max_failures ||
        admission.source_failures > options_.source.max_failures) {
      admission.retry_after = kPendingLockRetry;
      return refuse();
    }
    return absl::OkStatus();
  });
  if (!status.ok() && !refused) {
    return status;
  }
  admission.admitted = !refused;
  return admission;
}

absl::Status SignInThrottle::Failed(const Admission& admission, int64_t user_id,
                                    absl::string_view via) {
  const std::string account_key = AccountKey(admission.email);
  const std::string source_key = SourceKey(admission.source);
  const bool lock_account = admission.account_failures >= options_.account.max_failures;
  const bool lock_source = admission.source_failures >= options_.source.max_failures;
  const absl::Duration account_lock = LockFor(options_.account, admission.account_locks);
  const absl::Duration source_lock = LockFor(options_.source, admission.source_locks);
  absl::Status status = pool_->Transact([&](pqxx::work& tx) {
    if (lock_source) {
      tx.exec_prepared("throttle_lock", source_key, absl::ToDoubleSeconds(source_lock));
      if (absl::Status recorded =
              RecordActivity(tx, 0, "auth.source_locked",
                             {{"peer", admission.source},
                              {"failures", admission.source_failures},
                              {"locked_seconds", absl::ToInt64Seconds(source_lock)}});
          !recorded.ok()) {
        return recorded;
      }
    }
    // Only the window's first failure and the lock are reported now; the
    // others wait, folded into a count, for the account's next report.
    if (!lock_account && admission.account_failures != 1) {
      return absl::OkStatus();
    }
    const pqxx::result unreported = tx.exec_prepared("throttle_unreported", account_key);
    const int failures = unreported.empty() ? 1 : std::max(1, unreported[0][0].as<int>());
    json details = {{"email", admission.email},
                    {"peer", admission.source},
                    {"via", std::string(via)},
                    {"failures", failures}};
    if (lock_account) {
      tx.exec_prepared("throttle_lock", account_key, absl::ToDoubleSeconds(account_lock));
      details["locked_seconds"] = absl::ToInt64Seconds(account_lock);
      details["window_failures"] = admission.account_failures;
      return RecordActivity(tx, user_id, "auth.sign_in_locked", details);
    }
    tx.exec_prepared("throttle_reported", account_key, failures);
    return RecordActivity(tx, user_id, "auth.sign_in_failed", details);
  });
  if (status.ok() && lock_account) {
    log::Warning("account locked after failed sign-ins")
        .Str("email", admission.email)
        .Str("peer", admission.source)
        .Num("locked_seconds", absl::ToDoubleSeconds(account_lock));
  }
  if (status.ok() && lock_source) {
    log::Warning("client address locked after failed sign-ins")
        .Str("peer", admission.source)
        .Num("locked_seconds", absl::ToDoubleSeconds(source_lock));
  }
  return status;
}

absl::Status SignInThrottle::Succeeded(const Admission& admission, int64_t user_id,
                                       bool record_sign_in) {
  const std::string account_key = AccountKey(admission.email);
  const std::string source_key = SourceKey(admission.source);
  return pool_->Transact([&](pqxx::work& tx) {
    const pqxx::result cleared = tx.exec_prepared("throttle_clear", account_key);
    // The count includes this attempt, counted when it was admitted.
    const int failed_before = cleared.empty() ? 0 : std::max(0, cleared[0][0].as<int>() - 1);
    tx.exec_prepared("throttle_release", source_key);
    if (!record_sign_in) {
      return absl::OkStatus();
    }
    return RecordActivity(tx, user_id, "auth.sign_in_succeeded",
                          {{"email", admission.email},
                           {"peer", admission.source},
                           {"failures_before", failed_before}});
  });
}

absl::Status SignInThrottle::Release(const Admission& admission) {
  return pool_->Transact([&](pqxx::work& tx) {
    tx.exec_prepared("throttle_release", AccountKey(admission.email));
    tx.exec_prepared("throttle_release", SourceKey(admission.source));
    return absl::OkStatus();
  });
}

absl::StatusOr<int> SignInThrottle::PurgeExpired(int batch) {
  // Past every window, and past the hour after which a lock count is
  // forgotten anyway: deleting such a row changes no future decision.
  const absl::Duration quiet =
      std::max({options_.account.window, options_.source.window, absl::Hours(1)});
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<int> {
    const pqxx::result gone =
        tx.exec_prepared("throttle_purge", absl::ToDoubleSeconds(quiet), batch);
    for (const pqxx::row& row : gone) {
      const std::string stored_key = row[0].as<std::string>();
      absl::string_view key = stored_key;
      const int unreported = row[1].as<int>();
      if (!absl::ConsumePrefix(&key, kAccountPrefix) || unreported <= 0) {
        continue;
      }
      if (absl::Status recorded = RecordActivity(tx, row[3].as<int64_t>(), "auth.sign_in_failed",
                                                 {{"email", std::string(key)},
                                                  {"peer", row[2].as<std::string>()},
                                                  {"failures", unreported},
                                                  {"window_closed", true}});
          !recorded.ok()) {
        return recorded;
      }
    }
    return static_cast<int>(gone.size());
  });
}

}  // namespace crm::auth
