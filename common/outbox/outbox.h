#pragma once

// The transactional outbox (DESIGN.md §5): a service records an activity by
// inserting a row into its own `outbox` table in the same transaction as the
// change it describes, so the change and its event commit or roll back
// together. A relay (issue 4) streams undelivered rows to the audit service.
//
//   pool.Transact([&](pqxx::work& tx) {
//     tx.exec_prepared("users_deactivate", id);
//     return outbox::Record(tx, "auth", {.actor_user_id = caller, .action = "user.deactivated",
//                                        .entity_type = "user", .entity_id = id,
//                                        .details_json =
//                                        R"({"active":{"old":true,"new":false}})"});
//   });

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/outbox/event_limits.h"
#include "common/retention/janitor.h"

namespace crm::outbox {

struct Activity {
  int64_t actor_user_id = 0;  // 0: the system (bootstrap, an anonymous sign-in attempt)
  std::string action;         // "<entity>.<verb>", e.g. "user.created"
  std::string entity_type;
  int64_t entity_id = 0;
  std::string details_json = "{}";  // one JSON object: what changed (old and new values)
};

// Inserts `activity` with a fresh event id (UUID) and the current time.
// INVALID_ARGUMENT when it exceeds the limits of event_limits.h (its
// details are measured as stored, in jsonb's text form): the caller returns
// it, so its transaction rolls back and the change is refused rather than
// leaving an event audit would reject.
ABSL_MUST_USE_RESULT absl::Status Record(pqxx::transaction_base& tx, absl::string_view service,
                                         const Activity& activity);

// Inserts every one of `activities` in one statement (a bulk change's
// events: an import's thousand rows cost one round trip, not a thousand).
// The same checks as Record, for each; the first failing one is named.
ABSL_MUST_USE_RESULT absl::Status RecordAll(pqxx::transaction_base& tx, absl::string_view service,
                                            const std::vector<Activity>& activities);

// The migrations creating the `outbox` table (versions 900+, apart from each
// service's own 001, 002, ...); services append them to their own.
std::vector<db::Migration> Migrations();

// `own` followed by Migrations().
std::vector<db::Migration> WithOutbox(std::vector<db::Migration> own);

// The janitor's task deleting rows delivered more than `retention` ago
// (kept that long for inspection and replays); quarantined rows (with a
// rejected_reason) are kept.
retention::PurgeTask PurgeDelivered(db::Pool* pool, absl::Duration retention);

// The channel an insert into `outbox` notifies (once per transaction).
inline constexpr char kNotifyChannel[] = "crm_outbox";

}  // namespace crm::outbox
