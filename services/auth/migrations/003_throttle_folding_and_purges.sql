-- Failed sign-ins are folded: one activity per lock window with a count,
-- not one per guess (services/auth/sign_in_throttle.h). reported_failures
-- is how many of the window's failures are in the activity log already;
-- last_peer is the address of the latest attempt, for the summary written
-- when an expired row is purged.
ALTER TABLE login_throttle
  ADD COLUMN reported_failures INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN last_peer         TEXT    NOT NULL DEFAULT '';

-- The scheduled purges (services/auth/README.md, "Retention") find what
-- expired through these, a small batch at a time.
CREATE INDEX idx_login_throttle_window_start ON login_throttle (window_start);
CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX idx_request_results_created_at ON request_results (created_at);
