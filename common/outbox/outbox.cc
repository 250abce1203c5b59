#include "common/outbox/outbox.h"

#include "absl/strings/str_cat.h"

namespace crm::outbox {

void Record(pqxx::transaction_base& tx, absl::string_view service, const Activity& activity) {
  tx.exec_params(
      "INSERT INTO outbox (event_id, service, actor_user_id, action, entity_type, entity_id, "
      "details) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6::jsonb)",
      std::string(service), activity.actor_user_id, activity.action, activity.entity_type,
      activity.entity_id, activity.details_json);
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
)sql"}};
}

retention::PurgeTask PurgeDelivered(db::Pool* pool, absl::Duration retention) {
  return retention::SqlPurge(
      pool, "outbox",
      absl::StrCat("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at < "
                   "now() - make_interval(secs => ",
                   absl::ToInt64Seconds(retention), ") ORDER BY delivered_at LIMIT $1)"));
}

std::vector<db::Migration> WithOutbox(std::vector<db::Migration> own) {
  for (db::Migration& m : Migrations()) {
    own.push_back(std::move(m));
  }
  return own;
}

}  // namespace crm::outbox
