#include "common/outbox/outbox.h"

#include "absl/strings/str_cat.h"
#include "common/db/sql_array.h"

namespace crm::outbox {

namespace {

absl::Status CheckNames(absl::string_view service, const Activity& activity) {
  if (activity.action.empty() || activity.action.size() > kMaxNameLength ||
      activity.entity_type.size() > kMaxNameLength || service.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("activity \"",
                                                   activity.action.substr(0, kMaxNameLength),
                                                   "\": action (required), "
                                                   "entity type and service are at most ",
                                                   kMaxNameLength, " characters"));
  }
  return absl::OkStatus();
}

absl::Status TooLarge(const Activity& activity) {
  return absl::InvalidArgumentError(absl::StrCat("the details of activity \"", activity.action,
                                                 "\" are larger than ", kMaxDetailsBytes,
                                                 " bytes"));
}

}  // namespace

absl::Status Record(pqxx::transaction_base& tx, absl::string_view service,
                    const Activity& activity) {
  if (absl::Status s = CheckNames(service, activity); !s.ok()) {
    return s;
  }
  // Checked before the insert when the input alone is too long, and after
  // it as stored: jsonb's text form (what the relay sends) can be longer.
  if (activity.details_json.size() <= 4 * kMaxDetailsBytes) {
    const pqxx::row stored = tx.exec_params1(
        "INSERT INTO outbox (event_id, service, actor_user_id, action, entity_type, entity_id, "
        "details) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6::jsonb) "
        "RETURNING octet_length(details::text)",
        std::string(service), activity.actor_user_id, activity.action, activity.entity_type,
        activity.entity_id, activity.details_json);
    if (stored[0].as<size_t>() <= kMaxDetailsBytes) {
      return absl::OkStatus();
    }
  }
  return TooLarge(activity);
}

absl::Status RecordAll(pqxx::transaction_base& tx, absl::string_view service,
                       const std::vector<Activity>& activities) {
  if (activities.empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> actors, actions, types, ids, details;
  for (const Activity& activity : activities) {
    if (absl::Status s = CheckNames(service, activity); !s.ok()) {
      return s;
    }
    if (activity.details_json.size() > 4 * kMaxDetailsBytes) {
      return TooLarge(activity);
    }
    actors.push_back(absl::StrCat(activity.actor_user_id));
    actions.push_back(activity.action);
    types.push_back(activity.entity_type);
    ids.push_back(absl::StrCat(activity.entity_id));
    details.push_back(activity.details_json);
  }
  // WITH ORDINALITY keeps the given order in the ids (the relay's order).
  const pqxx::result stored = tx.exec_params(
      "INSERT INTO outbox (event_id, service, actor_user_id, action, entity_type, entity_id, "
      "details) SELECT gen_random_uuid(), $1, a.actor::int8, a.action, a.entity_type, "
      "a.entity_id::int8, a.details::jsonb FROM unnest($2::text[], $3::text[], $4::text[], "
      "$5::text[], $6::text[]) WITH ORDINALITY AS a(actor, action, entity_type, entity_id, "
      "details, n) ORDER BY a.n RETURNING octet_length(details::text)",
      std::string(service), db::ArrayLiteral(actors), db::ArrayLiteral(actions),
      db::ArrayLiteral(types), db::ArrayLiteral(ids), db::ArrayLiteral(details));
  for (pqxx::result::size_type i = 0; i < stored.size(); ++i) {
    if (stored[i][0].as<size_t>() > kMaxDetailsBytes) {
      return TooLarge(activities[i]);
    }
  }
  return absl::OkStatus();
}

std::vector<db::Migration> Migrations() {
  return {db::Migration{900, "900_create_outbox.sql", R"sql(
-- Activities waiting to be delivered to the audit service (DESIGN.md §5).
CREATE TABLE outbox (
  id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id      UUID        NOT NULL UNIQUE,
  occurred_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  service       TEXT        NOT NULL,
  actor_user_id BIGINT      NOT NULL DEFAULT 0,
  action        TEXT        NOT NULL,
  entity_type   TEXT        NOT NULL,
  entity_id     BIGINT      NOT NULL DEFAULT 0,
  details       JSONB       NOT NULL DEFAULT '{}',
  delivered_at  TIMESTAMPTZ
);

CREATE INDEX idx_outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
)sql"},
          db::Migration{901, "901_outbox_relay.sql", R"sql(
-- The relay (common/outbox/relay.h) LISTENs on crm_outbox, so an event
-- leaves within milliseconds of its commit instead of at the next poll.
-- Statement-level, and PostgreSQL folds a transaction's identical
-- notifications into one: a bulk insert wakes the relay once.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('crm_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Why audit refused an event (it is then marked delivered: resending cannot
-- help); NULL for events audit stored.
ALTER TABLE outbox ADD COLUMN rejected_reason TEXT;

-- Purging delivered rows after the retention period.
CREATE INDEX idx_outbox_delivered_at ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
)sql"},
          db::Migration{902, "902_outbox_quarantine.sql", R"sql(
-- Events audit rejected or the relay would not send (too large) stay in the
-- outbox with their rejected_reason, out of the queue and never purged, so
-- an operator can inspect them; the relay counts them for health details.
CREATE INDEX idx_outbox_rejected ON outbox (id) WHERE rejected_reason IS NOT NULL;
)sql"}};
}

retention::PurgeTask PurgeDelivered(db::Pool* pool, absl::Duration retention) {
  return retention::SqlPurge(
      pool, "outbox",
      // Quarantined rows are kept: they are what an operator must look at.
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at < "
      "now() - make_interval(secs => $2) AND rejected_reason IS NULL ORDER BY delivered_at "
      "LIMIT $1)",
      retention);
}

std::vector<db::Migration> WithOutbox(std::vector<db::Migration> own) {
  for (db::Migration& m : Migrations()) {
    own.push_back(std::move(m));
  }
  return own;
}

}  // namespace crm::outbox
