#include "common/service/service_database.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/log/log.h"

namespace crm::service {

absl::StatusOr<std::unique_ptr<db::Pool>> OpenServiceDatabase(
    const server::ServiceFlags& flags, const std::vector<db::Migration>& migrations,
    std::vector<db::PreparedStatement> statements) {
  // Services may start before PostgreSQL: wait for it, but stay stoppable.
  // The deadline and SIGTERM hold inside a run of the migrations too, so a
  // database that accepts connections and then goes silent (or a migration
  // lock never released) cannot hold start-up for longer.
  const absl::Time deadline = absl::Now() + flags.db_startup_timeout;
  log::Info("opening the database")
      .Num("timeout_seconds", absl::ToDoubleSeconds(flags.db_startup_timeout));
  int stop_signal = 0;
  const db::MigrationOptions options{
      .deadline = deadline,
      .lock_retry = absl::Milliseconds(200),
      .stop_requested =
          [&stop_signal](absl::Duration wait) {
            stop_signal = server::WaitForTerminationSignal(wait);
            return stop_signal != 0;
          },
  };
  bool waiting_logged = false;
  while (true) {
    absl::Status status = db::ApplyMigrations(flags.dsn, migrations, options);
    if (status.ok()) {
      break;
    }
    if (status.code() == absl::StatusCode::kCancelled) {
      log::Info("signal received while applying migrations").Int("signal", stop_signal);
      return status;
    }
    if (status.code() == absl::StatusCode::kDeadlineExceeded) {
      log::Error("database not ready")
          .Str("error", status.ToString())
          .Str("hint", "raise --db_startup_timeout_seconds if migrations need longer");
      return status;
    }
    if (status.code() != absl::StatusCode::kUnavailable || absl::Now() >= deadline) {
      log::Error("database not ready").Str("error", status.ToString());
      return status;
    }
    if (!waiting_logged) {
      log::Warning("waiting for the database")
          .Num("timeout_seconds", absl::ToDoubleSeconds(flags.db_startup_timeout));
      waiting_logged = true;
    }
    if (const int signal = server::WaitForTerminationSignal(absl::Milliseconds(500)); signal != 0) {
      log::Info("signal received while waiting for the database").Int("signal", signal);
      return absl::CancelledError("stopped before the database was ready");
    }
  }
  auto pool = std::make_unique<db::Pool>(db::PoolOptions{
      .dsn = flags.dsn, .size = flags.db_pool_size, .statements = std::move(statements)});
  if (absl::Status status = pool->Ping(); !status.ok()) {
    log::Error("database not ready").Str("error", status.ToString());
    return status;
  }
  return pool;
}

}  // namespace crm::service
