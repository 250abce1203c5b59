-- What sign-in needs beyond the seed's users table.
--
-- Emails are stored normalised (trimmed, lower case), so the seed's UNIQUE
-- constraint is case-insensitive in effect; the CHECK keeps it that way.
ALTER TABLE users
  ADD COLUMN active  BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN version BIGINT  NOT NULL DEFAULT 1,
  ADD CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)));

CREATE INDEX idx_users_role_id ON users (role, id);

-- Refresh tokens are stored only as SHA-256 hashes. Each sign-in starts a
-- family; every refresh retires the presented token and issues the next one
-- in the same family. Presenting a retired token revokes the whole family
-- (it was stolen or replayed).
CREATE TABLE refresh_tokens (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash  BYTEA       NOT NULL UNIQUE,
  user_id     BIGINT      NOT NULL REFERENCES users (id),
  family_id   UUID        NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at  TIMESTAMPTZ NOT NULL,
  retired_at  TIMESTAMPTZ,
  revoked_at  TIMESTAMPTZ
);

CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX idx_refresh_tokens_family_id ON refresh_tokens (family_id);

-- Failed sign-in counters per account ("account:<email>") and per source
-- address ("peer:<ip>"), with the lock they lead to.
CREATE TABLE login_throttle (
  key           TEXT        PRIMARY KEY,
  failures      INTEGER     NOT NULL DEFAULT 0,
  window_start  TIMESTAMPTZ NOT NULL DEFAULT now(),
  lock_count    INTEGER     NOT NULL DEFAULT 0,
  locked_until  TIMESTAMPTZ
);

-- Mutating calls by request_id, so a retry returns the first result (the
-- resource it created, re-read) and changes nothing. Scoped per caller and
-- method.
CREATE TABLE request_results (
  caller_id   BIGINT      NOT NULL,
  method      TEXT        NOT NULL,
  request_id  TEXT        NOT NULL,
  resource_id BIGINT      NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (caller_id, method, request_id)
);
