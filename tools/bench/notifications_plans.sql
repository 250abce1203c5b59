-- The plans in services/notifications/README.md, at 1 000 000 notifications, on a
-- scratch database of the suite's cluster (never the service's own):
--
--   tools/crm psql db -c 'CREATE DATABASE notifications_plans'
--   cat services/notifications/migrations/*.sql tools/bench/notifications_plans.sql |
--     tools/crm psql db -d notifications_plans -q -f -
--   tools/crm psql db -c 'DROP DATABASE notifications_plans'
--
-- Recipient 1 has 500 notifications, all unread; recipient 42 has 500, all read.
ALTER TABLE notifications DISABLE TRIGGER notifications_notify_new;
-- 1M notifications for 2 000 recipients, ~1 in 5 unread, newest ids last.
INSERT INTO notifications (recipient_id, message, status, read_at, kind, title, entity_type, entity_id, source_event_id, created_at)
SELECT 1 + (g % 2000), 'message ' || g,
       CASE WHEN g % 5 = 0 THEN 'unread' ELSE 'read' END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE now() END,
       'lead.assigned', 'New lead: Person ' || g || ' from zillow', 'lead', g, gen_random_uuid()::text,
       now() - make_interval(secs => (1000000 - g))
FROM generate_series(1, 1000000) g;
VACUUM ANALYZE notifications;
\echo '-- newest page of one recipient'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM notifications WHERE recipient_id = 42 AND id < 9223372036854775807 ORDER BY id DESC LIMIT 51;
\echo '-- unread page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM notifications WHERE recipient_id = 1 AND id < 9223372036854775807 AND status = 'unread' ORDER BY id DESC LIMIT 51;
\echo '-- unread count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM notifications WHERE recipient_id = 1 AND status = 'unread';
\echo '-- watch replay'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM notifications WHERE recipient_id = 42 AND id > 500000 ORDER BY id LIMIT 100;
\echo '-- mark all read up to a time'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) UPDATE notifications SET status = 'read', read_at = now() WHERE recipient_id = 1 AND status = 'unread' AND created_at <= now();
ROLLBACK;
