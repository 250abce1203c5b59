#include "common/server/service_database.h"

#include <utility>

#include "common/log/log.h"

namespace crm::server {

absl::StatusOr<std::unique_ptr<db::Pool>> OpenServiceDatabase(
    const ServiceFlags& flags, const std::vector<db::Migration>& migrations,
    std::vector<db::PreparedStatement> statements) {
  if (absl::Status status =
          db::WaitAndApplyMigrations(flags.dsn, migrations, flags.db_startup_timeout);
      !status.ok()) {
    log::Error("database not ready").Str("error", status.ToString());
    return status;
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
