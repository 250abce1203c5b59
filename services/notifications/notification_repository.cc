#include "services/notifications/notification_repository.h"

#include <algorithm>
#include <limits>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/db/row_fields.h"
#include "common/db/sql_array.h"
#include "common/idempotency/request_results.h"
#include "common/outbox/details_json.h"
#include "common/timestamp/timestamp.h"

namespace crm::notifications {
namespace {

// The advisory-lock class of "one recipient's inserts" (two-int form, a key
// space of its own: it never meets the single-bigint locks of the relay or
// of request ids).
constexpr int kRecipientLockClass = 0x4e4f5449;  // "NOTI"

// A direct notification is an admin's or a service's act, so it goes to the
// activity log; the feed consumer ignores this service's own events, so
// nothing loops back.
constexpr outbox::EntityActivities kActivities("notifications", "notification");

std::string Columns() {
  return absl::StrCat(
      "id, recipient_id, kind, title, message, entity_type, entity_id, "
      "COALESCE(source_event_id, '') AS source_event_id, ",
      timestamp::MicrosColumn("read_at"), ", ", timestamp::MicrosColumn("created_at"));
}

NotificationRecord ParseNotification(const db::RowFields& f) {
  return NotificationRecord{.id = f.Int64("id"),
                            .recipient_id = f.Int64("recipient_id"),
                            .kind = f.Str("kind"),
                            .title = f.Str("title"),
                            .message = f.Str("message"),
                            .entity_type = f.Str("entity_type"),
                            .entity_id = f.Int64("entity_id"),
                            .source_event_id = f.Str("source_event_id"),
                            .read_at_micros = f.OptionalInt64("read_at"),
                            .created_at_micros = f.Int64("created_at")};
}

std::vector<NotificationRecord> ParseNotifications(const pqxx::result& rows) {
  return db::ParseRows(rows, ParseNotification);
}

int64_t Unread(pqxx::transaction_base& tx, int64_t recipient_id) {
  return tx.exec_prepared1("notifications_unread_count", recipient_id)[0].as<int64_t>();
}

}  // namespace

std::vector<db::PreparedStatement> NotificationRepository::Statements() {
  const std::string columns = Columns();
  return {
      {"notifications_lock_recipients",
       absl::StrCat("SELECT count(pg_advisory_xact_lock(", kRecipientLockClass,
                    ", h)) FROM (SELECT DISTINCT hashint8(r) AS h FROM unnest($1::int8[]) r "
                    "ORDER BY 1) locks")},
      {"notifications_insert",
       absl::StrCat("INSERT INTO notifications (recipient_id, kind, title, message, entity_type, "
                    "entity_id, source_event_id) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')) "
                    "RETURNING ",
                    columns)},
      {"notifications_insert_feed",
       "INSERT INTO notifications (recipient_id, kind, title, message, entity_type, entity_id, "
       "source_event_id) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], "
       "$5::text[], $6::int8[], $7::text[]) ON CONFLICT (source_event_id, recipient_id) WHERE "
       "source_event_id IS NOT NULL DO NOTHING"},
      {"notifications_get", absl::StrCat("SELECT ", columns, " FROM notifications WHERE id = $1")},
      {"notifications_page", absl::StrCat("SELECT ", columns,
                                          " FROM notifications WHERE recipient_id = $1 AND id < $2 "
                                          "ORDER BY id DESC LIMIT $3")},
      {"notifications_page_unread",
       absl::StrCat("SELECT ", columns,
                    " FROM notifications WHERE recipient_id = $1 AND id < $2 AND status = 'unread' "
                    "ORDER BY id DESC LIMIT $3")},
      {"notifications_after",
       absl::StrCat("SELECT ", columns,
                    " FROM notifications WHERE recipient_id = $1 AND id > $2 "
                    "ORDER BY id LIMIT $3")},
      {"notifications_unread_count",
       "SELECT count(*) FROM notifications WHERE recipient_id = $1 AND status = 'unread'"},
      {"notifications_mark_ids",
       "UPDATE notifications SET status = 'read', read_at = now() WHERE recipient_id = $1 AND "
       "id = ANY($2::int8[]) AND status = 'unread'"},
      {"notifications_mark_up_to",
       "UPDATE notifications SET status = 'read', read_at = now() WHERE recipient_id = $1 AND "
       "status = 'unread' AND created_at <= $2::timestamptz"},
      {"feed_cursor_get", "SELECT last_seq FROM feed_cursors WHERE feed = $1"},
      {"feed_cursor_ensure",
       "INSERT INTO feed_cursors (feed, last_seq) VALUES ($1, 0) ON CONFLICT (feed) DO NOTHING"},
      {"feed_cursor_lock", "SELECT last_seq FROM feed_cursors WHERE feed = $1 FOR UPDATE"},
      {"feed_cursor_set",
       "UPDATE feed_cursors SET last_seq = $2, updated_at = now() WHERE feed = $1"},
  };
}

std::vector<NotificationRecord> NotificationRepository::ReadByIds(pqxx::transaction_base& tx,
                                                                  const std::vector<int64_t>& ids) {
  return ParseNotifications(
      tx.exec_params(absl::StrCat("SELECT ", Columns(),
                                  " FROM notifications WHERE id = ANY($1::int8[]) ORDER BY id"),
                     db::ArrayLiteral(ids)));
}

absl::StatusOr<NotificationRecord> NotificationRepository::Create(
    const NewNotification& notification, int64_t actor_id, const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<NotificationRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "CreateNotification", request_id)) {
      pqxx::result rows = tx.exec_prepared("notifications_get", done->resource_id);
      if (rows.empty()) {
        return absl::NotFoundError("the notification of this request_id no longer exists");
      }
      return ParseNotification(db::RowFields(rows[0]));
    }
    tx.exec_prepared("notifications_lock_recipients",
                     db::ArrayLiteral(std::vector<int64_t>{notification.recipient_id}));
    NotificationRecord created = ParseNotification(db::RowFields(
        tx.exec_prepared1("notifications_insert", notification.recipient_id, notification.kind,
                          notification.title, notification.message, notification.entity_type,
                          notification.entity_id, notification.source_event_id)));
    if (absl::Status s = kActivities.Record(tx, actor_id, "notification.created", created.id,
                                            {{"recipient_id", created.recipient_id},
                                             {"kind", created.kind},
                                             {"title", created.title}});
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "CreateNotification", request_id,
                          {.resource_id = created.id});
    return created;
  });
}

absl::StatusOr<std::vector<NotificationRecord>> NotificationRepository::List(int64_t recipient_id,
                                                                             bool unread_only,
                                                                             int64_t before_id,
                                                                             int limit) {
  const int64_t before = before_id > 0 ? before_id : std::numeric_limits<int64_t>::max();
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<NotificationRecord>> {
        return ParseNotifications(
            tx.exec_prepared(unread_only ? "notifications_page_unread" : "notifications_page",
                             recipient_id, before, limit));
      });
}

absl::StatusOr<int64_t> NotificationRepository::UnreadCount(int64_t recipient_id) {
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<int64_t> {
    return Unread(tx, recipient_id);
  });
}

absl::StatusOr<NotificationRepository::Marked> NotificationRepository::MarkRead(
    int64_t recipient_id, const std::vector<int64_t>& ids, const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<Marked> {
    if (auto done = idempotency::Begin(tx, recipient_id, "MarkNotificationsRead", request_id)) {
      return Marked{.marked = done->resource_id, .unread = Unread(tx, recipient_id)};
    }
    const int64_t marked =
        tx.exec_prepared("notifications_mark_ids", recipient_id, db::ArrayLiteral(ids))
            .affected_rows();
    idempotency::Remember(tx, recipient_id, "MarkNotificationsRead", request_id,
                          {.resource_id = marked});
    return Marked{.marked = marked, .unread = Unread(tx, recipient_id)};
  });
}

absl::StatusOr<NotificationRepository::Marked> NotificationRepository::MarkReadUpTo(
    int64_t recipient_id, absl::Time up_to, const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<Marked> {
    if (auto done = idempotency::Begin(tx, recipient_id, "MarkNotificationsRead", request_id)) {
      return Marked{.marked = done->resource_id, .unread = Unread(tx, recipient_id)};
    }
    const int64_t marked =
        tx.exec_prepared("notifications_mark_up_to", recipient_id, timestamp::SqlText(up_to))
            .affected_rows();
    idempotency::Remember(tx, recipient_id, "MarkNotificationsRead", request_id,
                          {.resource_id = marked});
    return Marked{.marked = marked, .unread = Unread(tx, recipient_id)};
  });
}

absl::StatusOr<std::vector<NotificationRecord>> NotificationRepository::After(int64_t recipient_id,
                                                                              int64_t after_id,
                                                                              int limit) {
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<NotificationRecord>> {
        return ParseNotifications(
            tx.exec_prepared("notifications_after", recipient_id, after_id, limit));
      });
}

absl::StatusOr<int64_t> NotificationRepository::Cursor(const std::string& feed) {
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<int64_t> {
    pqxx::result rows = tx.exec_prepared("feed_cursor_get", feed);
    return rows.empty() ? 0 : rows[0][0].as<int64_t>();
  });
}

absl::StatusOr<NotificationRepository::Stored> NotificationRepository::StoreFeedBatch(
    const std::string& feed, int64_t last_seq, const std::vector<FeedNotification>& notifications) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<Stored> {
    tx.exec_prepared("feed_cursor_ensure", feed);
    const int64_t cursor = tx.exec_prepared1("feed_cursor_lock", feed)[0].as<int64_t>();
    if (last_seq <= cursor) {
      return Stored{.cursor = cursor, .created = 0};  // handled already (another consumer)
    }
    std::vector<int64_t> recipients, entity_ids;
    std::vector<std::string> kinds, titles, messages, entity_types, event_ids;
    for (const FeedNotification& n : notifications) {
      if (n.seq <= cursor) {
        continue;
      }
      recipients.push_back(n.notification.recipient_id);
      kinds.push_back(n.notification.kind);
      titles.push_back(n.notification.title);
      messages.push_back(n.notification.message);
      entity_types.push_back(n.notification.entity_type);
      entity_ids.push_back(n.notification.entity_id);
      event_ids.push_back(n.notification.source_event_id);
    }
    int64_t created = 0;
    if (!recipients.empty()) {
      tx.exec_prepared("notifications_lock_recipients", db::ArrayLiteral(recipients));
      created = tx.exec_prepared("notifications_insert_feed", db::ArrayLiteral(recipients),
                                 db::ArrayLiteral(kinds), db::ArrayLiteral(titles),
                                 db::ArrayLiteral(messages), db::ArrayLiteral(entity_types),
                                 db::ArrayLiteral(entity_ids), db::ArrayLiteral(event_ids))
                    .affected_rows();
    }
    tx.exec_prepared("feed_cursor_set", feed, last_seq);
    return Stored{.cursor = last_seq, .created = created};
  });
}

}  // namespace crm::notifications
