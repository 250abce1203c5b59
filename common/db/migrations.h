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

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace crm::db {

struct Migration {
  int version;
  std::string name;  // file name, e.g. "001_init.sql"
  std::string sql;
};

// Hex SHA-256 of a migration's text, as stored in schema_migrations.checksum.
std::string MigrationChecksum(const std::string& sql);

// Applies every migration not yet recorded, in version order, each in its own
// transaction together with its schema_migrations row.
absl::Status ApplyMigrations(const std::string& dsn, absl::Span<const Migration> migrations);

}  // namespace crm::db
