#include "common/idempotency/request_results.h"

#include <algorithm>
#include <utility>

#include "absl/flags/flag.h"

ABSL_FLAG(int32_t, request_id_retention_hours, 24,
          "how long a request_id is remembered: a retry within it returns the first result");

namespace crm::idempotency {

std::vector<db::Migration> Migrations() {
  return {db::Migration{910, "910_request_results.sql", R"sql(
-- Mutating calls by request_id, so a retry returns the first result and
-- changes nothing. Scoped per caller and method. `outcome` holds what the
-- first answer needs besides the resource id.
CREATE TABLE IF NOT EXISTS request_results (
  caller_id   BIGINT      NOT NULL,
  method      TEXT        NOT NULL,
  request_id  TEXT        NOT NULL,
  resource_id BIGINT      NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (caller_id, method, request_id)
);
ALTER TABLE request_results ADD COLUMN IF NOT EXISTS outcome TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS idx_request_results_created_at ON request_results (created_at);
)sql"}};
}

std::vector<db::PreparedStatement> Statements() {
  return {
      // Two-key advisory locks have a key space of their own; the first key
      // marks request ids.
      {"request_lock",
       "SELECT pg_advisory_xact_lock(1380275529, hashtext($1::text || '/' || $2 || '/' || $3))"},
      {"request_result_get",
       "SELECT resource_id, outcome FROM request_results WHERE caller_id = $1 AND method = $2 "
       "AND request_id = $3"},
      {"request_result_put",
       "INSERT INTO request_results (caller_id, method, request_id, resource_id, outcome) "
       "VALUES ($1, $2, $3, $4, $5)"},
  };
}

void AddTo(std::vector<db::Migration>& migrations, std::vector<db::PreparedStatement>& statements) {
  for (db::Migration& migration : Migrations()) {
    migrations.push_back(std::move(migration));
  }
  for (db::PreparedStatement& statement : Statements()) {
    statements.push_back(std::move(statement));
  }
}

std::optional<Result> Begin(pqxx::transaction_base& tx, int64_t caller_id, absl::string_view method,
                            const std::string& request_id) {
  if (request_id.empty()) {
    return std::nullopt;
  }
  const std::string method_name(method);
  tx.exec_prepared("request_lock", caller_id, method_name, request_id);
  pqxx::result previous =
      tx.exec_prepared("request_result_get", caller_id, method_name, request_id);
  if (previous.empty()) {
    return std::nullopt;
  }
  return Result{.resource_id = previous[0]["resource_id"].as<int64_t>(),
                .outcome = previous[0]["outcome"].as<std::string>()};
}

void Remember(pqxx::transaction_base& tx, int64_t caller_id, absl::string_view method,
              const std::string& request_id, const Result& result) {
  if (request_id.empty()) {
    return;
  }
  tx.exec_prepared("request_result_put", caller_id, std::string(method), request_id,
                   result.resource_id, result.outcome);
}

retention::PurgeTask PurgeTask(db::Pool* pool, absl::Duration ttl) {
  return retention::SqlPurge(
      pool, "request_results",
      "DELETE FROM request_results WHERE (caller_id, method, request_id) IN ("
      "SELECT caller_id, method, request_id FROM request_results "
      "WHERE created_at < now() - make_interval(secs => $2) ORDER BY created_at LIMIT $1)",
      ttl);
}

absl::Duration RetentionFromFlags() {
  return absl::Hours(std::max(1, absl::GetFlag(FLAGS_request_id_retention_hours)));
}

}  // namespace crm::idempotency
