#pragma once

// The activity log's SQL (libpqxx; nothing gRPC). Appends take a
// transaction-level advisory lock, read the chain's head, and insert a whole
// batch in one statement, so seqs are gap-free, commit in seq order (a reader
// that sees seq n has every seq below it), and a batch costs one commit. The
// role running this needs only SELECT and INSERT on `activities`.

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db/pool.h"
#include "services/audit/activity.h"

namespace crm::audit {

struct AppendResult {
  int64_t seq = 0;
  bool duplicate = false;  // the event_id was stored before (or earlier in the batch)
  // Set when the database refused this event (a value or constraint it
  // cannot store): not stored, no seq; the rest of the batch is.
  std::string rejected = "";
};

// A page of the live feed: rows with seq >= from (in seq order) and the
// highest seq this read considered, matching or not.
struct FeedPage {
  std::vector<StoredActivity> activities;
  int64_t considered_through = 0;
};

class ActivityRepository {
 public:
  explicit ActivityRepository(db::Pool* pool) : pool_(pool) {}

  // The statements this repository prepares on every pooled connection.
  static std::vector<db::PreparedStatement> Statements();

  // Stores the events not stored before, in order, and returns one result per
  // event. One transaction for the whole batch.
  absl::StatusOr<std::vector<AppendResult>> Append(const std::vector<Event>& events);

  // A keyset page by seq: after `after_seq` (exclusive) when given.
  absl::StatusOr<std::vector<StoredActivity>> List(const ActivityFilter& filter, bool newest_first,
                                                   std::optional<int64_t> after_seq, int limit);

  // Up to `limit` matching rows with seq >= from_seq, oldest first.
  absl::StatusOr<FeedPage> ReadFeed(int64_t from_seq, const ActivityFilter& filter, int limit);

  // The highest stored seq, 0 when the log is empty.
  absl::StatusOr<int64_t> HeadSeq();

 private:
  db::Pool* const pool_;
};

}  // namespace crm::audit
