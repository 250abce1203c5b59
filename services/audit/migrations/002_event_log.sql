-- The activity log proper (DESIGN.md §5): each event stored once, in a global
-- gap-free order, hash-chained so any edit or deletion is detectable.
--
-- id is the API's `seq`. The service assigns it itself (last id + 1, under a
-- transaction-level advisory lock), because an identity sequence leaves gaps
-- when a transaction rolls back.
--
-- details_json keeps the producer's bytes exactly, since the hash covers them;
-- details is the same document as jsonb, for queries.
ALTER TABLE activities
  ALTER COLUMN user_id SET DEFAULT 0,
  ALTER COLUMN user_id SET NOT NULL,
  ADD COLUMN event_id     UUID        NOT NULL UNIQUE,
  ADD COLUMN service      TEXT        NOT NULL,
  ADD COLUMN entity_type  TEXT        NOT NULL DEFAULT '',
  ADD COLUMN entity_id    BIGINT      NOT NULL DEFAULT 0,
  ADD COLUMN details_json TEXT        NOT NULL DEFAULT '{}',
  ADD COLUMN details      JSONB       GENERATED ALWAYS AS (details_json::jsonb) STORED,
  ADD COLUMN prev_hash    BYTEA       NOT NULL CHECK (length(prev_hash) = 32),
  ADD COLUMN hash         BYTEA       NOT NULL CHECK (length(hash) = 32),
  ADD COLUMN record_time  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp();

-- Keyset pages per filter: the filter's columns, then id.
CREATE INDEX idx_activities_user_seq ON activities (user_id, id);
CREATE INDEX idx_activities_entity_seq ON activities (entity_type, entity_id, id);
CREATE INDEX idx_activities_action_seq ON activities (action, id);
CREATE INDEX idx_activities_service_seq ON activities (service, id);

-- Append-only: the role that owns and runs the service may read and add rows,
-- never change or remove them. (An owner could grant these back to itself;
-- the hash chain and an externally kept last_hash catch that case.)
REVOKE UPDATE, DELETE, TRUNCATE ON activities FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON activities FROM CURRENT_USER;
