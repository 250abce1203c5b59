#pragma once

// Versioned schema migrations. Each service keeps `migrations/NNN_name.sql`
// beside its code; the build embeds them (crm_embed_migrations in
// CMakeLists.txt) and the service applies them at start-up:
//
//   absl::Status s = crm::db::ApplyMigrations(dsn, crm::leads::Migrations());
//
// Runs hold a PostgreSQL advisory lock, so replicas starting together apply
// each migration exactly once. Applied versions are recorded with a SHA-256 of
// their text in `schema_migrations`; a landed migration that was edited
// afterwards is refused (FAILED_PRECONDITION) instead of silently diverging.
//
// A run is bounded: by its deadline (connecting, waiting for the lock, each
// statement; a silent database cannot hold it, see connect.h) and by a stop
// request (SIGTERM at start-up), which abandons it at once. A migration cut
// short rolls back with its transaction.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace crm::db {

struct Migration {
  int version;
  std::string name;  // file name, e.g. "001_init.sql"
  std::string sql;
};

// The advisory lock a run holds (per database, so one key serves all).
inline constexpr int64_t kMigrationLockKey = 0x63726d5f6d6967;  // "crm_mig"

struct MigrationOptions {
  // The whole run ends by then: DEADLINE_EXCEEDED (also when another
  // session holds the lock that long).
  absl::Time deadline = absl::InfiniteFuture();
  // How often the lock is tried again while another session holds it.
  absl::Duration lock_retry = absl::Milliseconds(200);
  // Called over and over by a thread of the run's own while it runs, each
  // call waiting up to its argument for a reason to stop; true abandons the
  // run with CANCELLED.
  std::function<bool(absl::Duration)> stop_requested;
};

// Hex SHA-256 of a migration's text, as stored in schema_migrations.checksum.
std::string MigrationChecksum(const std::string& sql);

// Applies every migration not yet recorded, in version order, each in its own
// transaction together with its schema_migrations row.
absl::Status ApplyMigrations(const std::string& dsn, absl::Span<const Migration> migrations,
                             const MigrationOptions& options = {});

}  // namespace crm::db
