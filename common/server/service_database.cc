#include "common/server/service_database.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/log/log.h"

namespace crm::server {

absl::StatusOr<std::unique_ptr<db::Pool>> OpenServiceDatabase(
    const ServiceFlags& flags, const std::vector<db::Migration>& migrations,
    std::vector<db::PreparedStatement> statements) {
  // Services may start before PostgreSQL: wait for it, but stay stoppable.
  const absl::Time deadline = absl::Now() + flags.db_startup_timeout;
  bool waiting_logged = false;
  while (true) {
    absl::Status status = db::ApplyMigrations(flags.dsn, migrations);
    if (status.ok()) {
      break;
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
    if (const int signal = WaitForTerminationSignal(absl::Milliseconds(500)); signal != 0) {
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

}  // namespace crm::server
