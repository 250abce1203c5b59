#pragma once

// Mutating calls made idempotent by their `request_id` (DESIGN.md §3): a
// retry with the same id returns the first result and changes nothing. The
// first attempt records what it produced in `request_results`, in the same
// transaction as the change; a retry finds it there.
//
//   return db::TransactFor(pool, [&](pqxx::work& tx) -> absl::StatusOr<Lead> {
//     if (auto done = idempotency::Begin(tx, caller, "CreateLead", request_id)) {
//       return ReadLead(tx, done->resource_id);   // the first attempt's lead
//     }
//     Lead lead = Insert(tx, ...);
//     idempotency::Remember(tx, caller, "CreateLead", request_id, {.resource_id = lead.id});
//     return lead;
//   });
//
// Results are scoped per caller and method, so one caller's id never
// answers another's call. Retries racing each other wait in Begin for the
// first to commit, then find its result. The service kit adds the table,
// the statements and the janitor's purge (`--request_id_retention_hours`).

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/retention/janitor.h"

namespace crm::idempotency {

struct Result {
  int64_t resource_id = 0;
  // A few words the first answer needs besides the resource (e.g. whether
  // a capture created or merged); empty when none.
  std::string outcome = {};
};

// The `request_results` table (version 910; a no-op where a service created
// it before the kit did).
std::vector<db::Migration> Migrations();

// The statements Begin and Remember use.
std::vector<db::PreparedStatement> Statements();

// Appends Migrations() and Statements() to a service's own, as the kit does
// (and tests that compose a service in-process).
void AddTo(std::vector<db::Migration>& migrations, std::vector<db::PreparedStatement>& statements);

// With an empty `request_id`: nothing (std::nullopt). Otherwise serialises
// attempts with this (caller, method, request_id) until the transaction
// ends, and returns the first attempt's result if one committed.
std::optional<Result> Begin(pqxx::transaction_base& tx, int64_t caller_id, absl::string_view method,
                            const std::string& request_id);

// Records the result of the attempt Begin let through (nothing for an empty
// `request_id`).
void Remember(pqxx::transaction_base& tx, int64_t caller_id, absl::string_view method,
              const std::string& request_id, const Result& result);

// The janitor's task: results older than `ttl` are forgotten (a retry after
// that is a new call).
retention::PurgeTask PurgeTask(db::Pool* pool, absl::Duration ttl);

// --request_id_retention_hours (at least 1).
absl::Duration RetentionFromFlags();

}  // namespace crm::idempotency
