-- What intake, de-duplication, routing and the pipeline need beyond the
-- seed's leads table (whose columns and idx_leads_assigned_to stay as they
-- are; status widens back to the seed's VARCHAR(50)).
--
-- Contacts are kept as given (email, phone) beside the keys de-duplication
-- compares: email_key is the email trimmed and lower-cased, phone_e164 the
-- phone in E.164 when libphonenumber could parse it (NULL otherwise: such a
-- number is kept but never matched). Keys are NULL rather than '' so the
-- partial indexes below hold only leads that can match.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE leads ALTER COLUMN status TYPE VARCHAR(50);

ALTER TABLE leads
  ADD COLUMN email              TEXT        NOT NULL DEFAULT '',
  ADD COLUMN email_key          TEXT,
  ADD COLUMN phone              TEXT        NOT NULL DEFAULT '',
  ADD COLUMN phone_e164         TEXT,
  ADD COLUMN source             VARCHAR(64) NOT NULL DEFAULT 'manual',
  ADD COLUMN external_id        TEXT,
  ADD COLUMN notes              TEXT        NOT NULL DEFAULT '',
  ADD COLUMN property_id        BIGINT,
  ADD COLUMN property_mls_id    TEXT,
  ADD COLUMN version            BIGINT      NOT NULL DEFAULT 1,
  ADD COLUMN assigned_at        TIMESTAMPTZ,
  ADD COLUMN deleted_at         TIMESTAMPTZ,
  -- The routing decision: which rule chose whom (routed_to, NULL when the
  -- lead stayed in the pond), why, among which agents, and when.
  ADD COLUMN routing_rule       TEXT,
  ADD COLUMN routed_to          BIGINT,
  ADD COLUMN routing_reason     TEXT,
  ADD COLUMN routing_candidates BIGINT[],
  ADD COLUMN routed_at          TIMESTAMPTZ,
  -- What the free-text filter searches, lower-cased once, for the trigram
  -- index.
  ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(name || ' ' || email || ' ' || phone || ' ' || coalesce(contact_info, '') || ' ' ||
          notes)) STORED,
  ADD CONSTRAINT leads_status_known CHECK (status IN ('NEW', 'CONTACTED', 'QUALIFIED',
    'NURTURING', 'APPOINTMENT_SET', 'UNDER_CONTRACT', 'CLOSED_WON', 'CLOSED_LOST')),
  ADD CONSTRAINT leads_email_key_normalised CHECK (email_key = lower(btrim(email_key))),
  ADD CONSTRAINT leads_external_id_not_empty CHECK (external_id <> '');

-- De-duplication lookups, over live leads only.
CREATE UNIQUE INDEX idx_leads_source_external_id ON leads (source, external_id)
  WHERE external_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX idx_leads_email_key ON leads (email_key)
  WHERE email_key IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX idx_leads_phone_e164 ON leads (phone_e164)
  WHERE phone_e164 IS NOT NULL AND deleted_at IS NULL;

-- ListLeads, newest first (id descending) under each filter: the primary
-- key for no filter, these for one. A filter's rows come in id order, so a
-- page reads page_size + 1 index entries, never sorts.
CREATE INDEX idx_leads_assigned_to_id ON leads (assigned_to, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_leads_status_id ON leads (status, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_leads_source_id ON leads (source, id) WHERE deleted_at IS NULL;
CREATE INDEX idx_leads_created_at ON leads (created_at) WHERE deleted_at IS NULL;
CREATE INDEX idx_leads_search_text ON leads USING gin (search_text gin_trgm_ops)
  WHERE deleted_at IS NULL;

-- The round-robin cursor per rule: the agent who got the last lead. Captures
-- lock its row, so concurrent ones take turns and each agent gets its share;
-- it lives here, so a restart resumes the rotation.
CREATE TABLE routing_cursors (
  rule          TEXT        PRIMARY KEY,
  last_agent_id BIGINT      NOT NULL DEFAULT 0,
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO routing_cursors (rule) VALUES ('round_robin');
