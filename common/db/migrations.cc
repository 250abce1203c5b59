#include "common/db/migrations.h"

#include <openssl/sha.h>

#include <atomic>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/db/connect.h"
#include "common/db/errors.h"
#include "common/db/pool.h"
#include "common/log/log.h"

namespace crm::db {
namespace {

constexpr char kCreateTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

absl::Status CheckOrder(absl::Span<const Migration> migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return absl::InternalError(absl::StrCat("migrations out of order at ", migrations[i].name));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string MigrationChecksum(const std::string& sql) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

namespace {

// Watches a run from a thread of its own: cuts its connection when a stop is
// requested (the blocked libpq call then fails at once).
class StopWatcher {
 public:
  StopWatcher(const MigrationOptions& options, SocketWatchdog& watchdog)
      : options_(options), watchdog_(watchdog) {
    if (options_.stop_requested) {
      thread_ = std::thread([this] { Run(); });
    }
  }
  StopWatcher(const StopWatcher&) = delete;
  StopWatcher& operator=(const StopWatcher&) = delete;
  ~StopWatcher() {
    done_.Notify();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void Watch(int64_t id) {
    absl::MutexLock lock(&mu_);
    id_ = id;
    if (stopped_.load()) {
      watchdog_.CutNow(id_);
    }
  }
  const std::atomic<bool>* flag() const { return &stopped_; }
  bool stopped() const { return stopped_.load(); }
  // Sleeps up to `d`; false when the run should stop instead.
  bool Pause(absl::Duration d) { return !stop_.WaitForNotificationWithTimeout(d); }

 private:
  void Run() {
    while (!done_.HasBeenNotified()) {
      if (options_.stop_requested(absl::Milliseconds(100))) {
        stopped_ = true;
        stop_.Notify();
        absl::MutexLock lock(&mu_);
        watchdog_.CutNow(id_);
        return;
      }
    }
  }

  const MigrationOptions& options_;
  SocketWatchdog& watchdog_;
  std::atomic<bool> stopped_{false};
  absl::Notification stop_;
  absl::Notification done_;
  absl::Mutex mu_;
  int64_t id_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace

absl::Status ApplyMigrations(const std::string& dsn, absl::Span<const Migration> migrations,
                             const MigrationOptions& options) {
  if (absl::Status order = CheckOrder(migrations); !order.ok()) {
    return order;
  }
  SocketWatchdog watchdog;
  StopWatcher stop(options, watchdog);
  const auto late = [&] { return absl::Now() >= options.deadline; };
  const auto cut_short = [&](absl::string_view what) -> absl::Status {
    if (stop.stopped()) {
      return absl::CancelledError(absl::StrCat("stopped while ", what));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": not done within the start-up timeout"));
  };
  try {
    std::unique_ptr<BoundedConnection> opened =
        ConnectPqxxBefore(WithConnectionDefaults(dsn, absl::Seconds(5)),
                          std::min(options.deadline, absl::Now() + absl::Seconds(5)), stop.flag());
    pqxx::connection_base& conn = *opened;
    stop.Watch(watchdog.Arm(conn.sock(), options.deadline));
    // Tried, not waited for: a lock held elsewhere (another replica
    // migrating, or a stuck session) is waited for only until the deadline.
    for (bool logged = false;;) {
      pqxx::nontransaction lock(conn);
      if (lock.exec_params1("SELECT pg_try_advisory_lock($1)", kMigrationLockKey)[0].as<bool>()) {
        break;
      }
      if (!logged) {
        log::Warning("waiting for the migration lock, held by another session");
        logged = true;
      }
      if (late() || !stop.Pause(std::min(options.lock_retry, options.deadline - absl::Now()))) {
        return cut_short("waiting for the migration lock");
      }
      if (late()) {
        return cut_short("waiting for the migration lock");
      }
    }
    if (options.deadline != absl::InfiniteFuture()) {
      // The server stops too, rather than finish work nobody waits for.
      const int64_t left_ms =
          std::max<int64_t>(1, absl::ToInt64Milliseconds(options.deadline - absl::Now()));
      pqxx::nontransaction limits(conn);
      limits.exec(absl::StrCat("SET statement_timeout = ", left_ms));
      limits.exec(absl::StrCat("SET lock_timeout = ", left_ms));
    }
    // Session-level lock: released explicitly below, or when `conn` closes
    // if anything throws.
    std::map<int, std::pair<std::string, std::string>> applied;  // version → (name, checksum)
    {
      pqxx::work tx(conn);
      // Only when missing: a role that runs the service without owning the
      // schema (see deploy/README.md) may not CREATE, even IF NOT EXISTS.
      if (tx.exec("SELECT to_regclass('schema_migrations')")[0][0].is_null()) {
        tx.exec(kCreateTable);
      }
      for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
        applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
      }
      tx.commit();
    }
    int applied_now = 0;
    for (const Migration& migration : migrations) {
      const std::string checksum = MigrationChecksum(migration.sql);
      if (auto it = applied.find(migration.version); it != applied.end()) {
        if (it->second.second != checksum) {
          log::Error("landed migration was edited")
              .Int("version", migration.version)
              .Str("name", migration.name);
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", migration.name, " differs from the one applied as version ",
              migration.version, " (", it->second.first,
              "); landed migrations must never be edited, add a new one instead"));
        }
        continue;
      }
      pqxx::work tx(conn);
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     migration.version, migration.name, checksum);
      tx.commit();
      ++applied_now;
      log::Info("migration applied").Int("version", migration.version).Str("name", migration.name);
    }
    if (!applied.empty() &&
        applied.rbegin()->first > (migrations.empty() ? 0 : migrations.back().version)) {
      // A newer binary has migrated this database (e.g. mid-rollout). Keep
      // running: migrations are additive, so the old code still works.
      log::Warning("database schema is newer than this binary")
          .Int("database_version", applied.rbegin()->first);
    }
    {
      pqxx::nontransaction unlock(conn);
      unlock.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    }
    log::Info("migrations up to date")
        .Int("applied_now", applied_now)
        .Int("version", migrations.empty() ? 0 : migrations.back().version);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    if (stop.stopped() || late()) {
      log::Warning("applying migrations cut short").Str("detail", e.what());
      return cut_short("applying migrations");
    }
    absl::Status status = StatusFromException(e);
    return absl::Status(status.code(), absl::StrCat("applying migrations: ", status.message()));
  }
}

}  // namespace crm::db
