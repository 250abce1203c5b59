-- The seed's `status` column (it replaces `is_read`, which the seed does not
-- have: one truth for "read", kept consistent with read_at by a CHECK), the
-- API's fields, the feed consumer's durable cursor, and the NOTIFY that wakes
-- every process's live watchers.
ALTER TABLE notifications
  ADD COLUMN status          VARCHAR(50) NOT NULL DEFAULT 'unread',
  ADD COLUMN read_at         TIMESTAMPTZ,
  ADD COLUMN kind            TEXT        NOT NULL DEFAULT 'system.message',
  ADD COLUMN title           TEXT        NOT NULL DEFAULT '',
  ADD COLUMN entity_type     TEXT        NOT NULL DEFAULT '',
  ADD COLUMN entity_id       BIGINT      NOT NULL DEFAULT 0,
  -- The audit event it was made from; NULL when created directly.
  ADD COLUMN source_event_id TEXT;

UPDATE notifications SET status = 'read', read_at = created_at WHERE is_read;
ALTER TABLE notifications DROP COLUMN is_read;

ALTER TABLE notifications
  ADD CONSTRAINT notifications_status_known CHECK (status IN ('unread', 'read')),
  ADD CONSTRAINT notifications_read_at_matches CHECK ((status = 'read') = (read_at IS NOT NULL));

-- The idempotency key of the feed: one notification per event and recipient.
CREATE UNIQUE INDEX notifications_source_event_recipient
  ON notifications (source_event_id, recipient_id) WHERE source_event_id IS NOT NULL;
-- A recipient's notifications newest first (keyset on id), and the unread
-- ones: the unread page and the unread count read only this partial index.
CREATE INDEX notifications_recipient_id_id ON notifications (recipient_id, id);
CREATE INDEX notifications_recipient_unread ON notifications (recipient_id, id)
  WHERE status = 'unread';

-- The last audit seq the consumer handled, written in the same transaction
-- as the notifications it made from the events up to it.
CREATE TABLE feed_cursors (
  feed       TEXT        PRIMARY KEY,
  last_seq   BIGINT      NOT NULL CHECK (last_seq >= 0),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every new notification wakes the processes serving its recipient's
-- WatchNotifications streams ("<recipient_id>:<id>"; they read the row).
CREATE FUNCTION notifications_notify_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('crm_notifications', NEW.recipient_id::text || ':' || NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER notifications_notify_new AFTER INSERT ON notifications
  FOR EACH ROW EXECUTE FUNCTION notifications_notify_new();
