#pragma once

// The notifications database: notifications (SQL through libpqxx, nothing
// gRPC) and the feed consumer's cursor.
//
// Every insert takes a transaction-scoped advisory lock per recipient (in
// recipient order) before it draws ids, so one recipient's notifications
// commit in id order: a watcher that has seen id N has seen every earlier
// one, and resuming after N misses nothing.

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/pool.h"
#include "services/notifications/notification_record.h"

namespace crm::notifications {

// A feed event's notification: the audit seq it came from and what it says.
struct FeedNotification {
  int64_t seq = 0;
  NewNotification notification;
};

class NotificationRepository {
 public:
  explicit NotificationRepository(db::Pool* pool) : pool_(pool) {}

  static std::vector<db::PreparedStatement> Statements();

  // The notifications with these ids, in id order, on a connection of the
  // caller's own (the listener's).
  static std::vector<NotificationRecord> ReadByIds(pqxx::transaction_base& tx,
                                                   const std::vector<int64_t>& ids);

  // A direct notification (CreateNotification), idempotent by `request_id`
  // per actor: a retry returns the first one.
  absl::StatusOr<NotificationRecord> Create(const NewNotification& notification, int64_t actor_id,
                                            const std::string& request_id);

  // A page of `recipient_id`'s notifications, newest first, with id < `before_id`
  // (0: from the newest), at most `limit`.
  absl::StatusOr<std::vector<NotificationRecord>> List(int64_t recipient_id, bool unread_only,
                                                       int64_t before_id, int limit);
  absl::StatusOr<int64_t> UnreadCount(int64_t recipient_id);

  struct Marked {
    int64_t marked = 0;  // went from unread to read now
    int64_t unread = 0;  // left unread
  };
  // Marks read those of `ids` that are `recipient_id`'s and unread (others
  // are ignored), idempotent by `request_id`.
  absl::StatusOr<Marked> MarkRead(int64_t recipient_id, const std::vector<int64_t>& ids,
                                  const std::string& request_id);
  // Marks read every unread notification of `recipient_id` created at or
  // before `up_to`.
  absl::StatusOr<Marked> MarkReadUpTo(int64_t recipient_id, absl::Time up_to,
                                      const std::string& request_id);

  // `recipient_id`'s notifications with id > `after_id`, oldest first, at
  // most `limit` (a watcher's replay).
  absl::StatusOr<std::vector<NotificationRecord>> After(int64_t recipient_id, int64_t after_id,
                                                        int limit);

  // The last seq the consumer of `feed` handled (0 before the first).
  absl::StatusOr<int64_t> Cursor(const std::string& feed);

  struct Stored {
    int64_t cursor = 0;   // the feed's cursor after the call
    int64_t created = 0;  // notifications created (repeats of stored ones are not)
  };
  // In one transaction: the notifications of the events in (cursor, last_seq]
  // (those at or below the stored cursor are skipped: handled already), and
  // the cursor moved to `last_seq`. The cursor row is locked first, so two
  // consumers of one feed take turns and the second skips what the first did.
  absl::StatusOr<Stored> StoreFeedBatch(const std::string& feed, int64_t last_seq,
                                        const std::vector<FeedNotification>& notifications);

 private:
  db::Pool* const pool_;
};

}  // namespace crm::notifications
