#include "common/outbox/outbox.h"

namespace crm::outbox {

void Record(pqxx::transaction_base& tx, absl::string_view service, const Activity& activity) {
  tx.exec_params(
      "INSERT INTO outbox (event_id, service, actor_user_id, action, entity_type, entity_id, "
      "details) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6::jsonb)",
      std::string(service), activity.actor_user_id, activity.action, activity.entity_type,
      activity.entity_id, activity.details_json);
}

db::Migration Migration() {
  // Version 900 keeps it apart from each service's own 001, 002, ... files.
  return db::Migration{900, "900_create_outbox.sql", R"sql(
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
)sql"};
}

}  // namespace crm::outbox
