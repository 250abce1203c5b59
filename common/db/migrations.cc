#include "common/db/migrations.h"

#include <openssl/sha.h>

#include <map>
#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/db/errors.h"
#include "common/db/pool.h"
#include "common/log/log.h"

namespace crm::db {
namespace {

// Advisory lock keys are per database, so one constant serves every service.
constexpr int64_t kMigrationLockKey = 0x63726d5f6d6967;  // "crm_mig"

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

absl::Status ApplyMigrations(const std::string& dsn, absl::Span<const Migration> migrations) {
  if (absl::Status order = CheckOrder(migrations); !order.ok()) {
    return order;
  }
  try {
    pqxx::connection conn(WithConnectionDefaults(dsn, absl::Seconds(5)));
    {
      pqxx::nontransaction lock(conn);
      lock.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
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
    absl::Status status = StatusFromException(e);
    return absl::Status(status.code(), absl::StrCat("applying migrations: ", status.message()));
  }
}

}  // namespace crm::db
