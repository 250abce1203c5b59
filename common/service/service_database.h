#pragma once

// Start-up of a service's own database: wait for it, apply the service's
// embedded migrations, and open the connection pool, all from the common
// flags (--dsn, --db_pool_size, --db_startup_timeout_seconds).

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/server/flags.h"

namespace crm::service {

// CANCELLED when SIGTERM/SIGINT arrives while waiting: main() then exits 0.
absl::StatusOr<std::unique_ptr<db::Pool>> OpenServiceDatabase(
    const server::ServiceFlags& flags, const std::vector<db::Migration>& migrations,
    std::vector<db::PreparedStatement> statements = {});

}  // namespace crm::service
