#pragma once

// The first step of every change to a versioned row (a lead, a listing): the
// row locked FOR UPDATE, the caller's access checked before anything else is
// said about it (one who may not see the row learns nothing of its version
// either), then the version the caller last read, if it named one. And the
// plain read that answers a replayed request (request-id idempotency).
//
//   constexpr db::VersionedRows<LeadRecord> kLeads{.get = "leads_get",
//                                                  .get_for_update = "leads_get_for_update",
//                                                  .parse = ParseLead,
//                                                  .not_found = NotFound,
//                                                  .stale = VersionMismatch};
//   absl::StatusOr<LeadRecord> current = kLeads.Lock(tx, id, expected_version, allow);

#include <cstdint>
#include <pqxx/pqxx>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/row_fields.h"

namespace crm::db {

template <typename Record>
struct VersionedRows {
  // Prepared statements reading one row by id ($1), the second FOR UPDATE.
  const char* get = nullptr;
  const char* get_for_update = nullptr;
  Record (*parse)(const RowFields&) = nullptr;  // Record has an int64 `version`
  absl::Status (*not_found)() = nullptr;
  absl::Status (*stale)() = nullptr;  // ABORTED, saying to reload and retry

  // `expected_version` 0: whatever version is stored.
  absl::StatusOr<Record> Lock(pqxx::transaction_base& tx, int64_t id, int64_t expected_version,
                              absl::FunctionRef<absl::Status(const Record&)> allow) const {
    const pqxx::result rows = tx.exec_prepared(get_for_update, id);
    if (rows.empty()) {
      return not_found();
    }
    Record record = parse(RowFields(rows[0]));
    if (absl::Status allowed = allow(record); !allowed.ok()) {
      return allowed;
    }
    if (expected_version != 0 && expected_version != record.version) {
      return stale();
    }
    return record;
  }

  absl::StatusOr<Record> Read(pqxx::transaction_base& tx, int64_t id) const {
    const pqxx::result rows = tx.exec_prepared(get, id);
    if (rows.empty()) {
      return not_found();
    }
    return parse(RowFields(rows[0]));
  }
};

}  // namespace crm::db
