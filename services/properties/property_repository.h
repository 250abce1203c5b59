#pragma once

// All SQL of the properties service, through named prepared statements on
// the service's pool (ListProperties' optional filters through a
// parameterised db::WhereClause). Every change writes its activities to the
// outbox in the same transaction and records its request_id's result when
// given one. Who may do what is the caller's decision: mutators take an
// `allow` check they run on the row-locked listing before changing it.
// Nothing here knows gRPC; errors are absl::Status.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/pipelined_reader.h"
#include "common/db/pool.h"
#include "common/db/row_fields.h"
#include "services/properties/property_record.h"

namespace crm::properties {

using Allow = absl::FunctionRef<absl::Status(const PropertyRecord&)>;
// Changes the row-locked listing in place (an update mask applied, checked).
using Change = absl::FunctionRef<absl::Status(PropertyRecord&)>;

enum class Order { kNewest, kPriceAscending, kPriceDescending, kRecentlyChanged };

struct ListQuery {
  std::vector<std::string> statuses = {};  // any of these; empty: any
  std::optional<int64_t> min_price_cents = {};
  std::optional<int64_t> max_price_cents = {};
  int64_t agent_id = 0;  // 0 any
  std::string city = {};
  std::string postal_code = {};
  std::string property_type = {};
  int32_t min_bedrooms = 0;
  std::string text = {};  // a tsquery (db::PrefixTsQuery) over MLS id, address, remarks
  struct Box {
    double min_latitude = 0, max_latitude = 0, min_longitude = 0, max_longitude = 0;
  };
  std::optional<Box> box = {};
  Order order = Order::kNewest;
  // The keyset: the previous page's last (price cents or update micros,)
  // id; only the id for kNewest.
  std::optional<std::vector<int64_t>> after = {};
  int limit = 51;
};

// The keys a listing has under `order` (what ListQuery::after holds), of a
// record or of a row of ListAsync's result.
std::vector<int64_t> OrderKeys(const PropertyRecord& listing, Order order);
std::vector<int64_t> OrderKeys(const db::RowFields& row, Order order);

// One row of an import, checked: its position in the stream, and the
// listing it says (agent_id 0: keep the stored agent; change timestamps
// unset: stamped when the status or price changes).
struct ImportRow {
  int64_t index = 0;
  PropertyRecord listing = {};
};

struct ImportFailure {
  int64_t index = 0;
  std::string mls_id = {};
  std::string field = {};
  std::string message = {};
};

struct ImportOutcome {
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  std::vector<ImportFailure> failed = {};
  // rows[0, consumed) are done; the rest start with a row that repeats a
  // listing an earlier row touched, and go in the next call.
  size_t consumed = 0;
};

class PropertyRepository {
 public:
  // How many listings next in a free-text page's order are looked through
  // for its matches before the words' index is asked (0 or less: always the
  // index).
  static constexpr int kDefaultFreeTextWalk = 300;

  // `reader` (optional) serves the *Async reads.
  explicit PropertyRepository(db::Pool* pool, db::PipelinedReader* reader = nullptr,
                              int free_text_walk = kDefaultFreeTextWalk)
      : pool_(pool), reader_(reader), free_text_walk_(free_text_walk) {}

  static std::vector<db::PreparedStatement> Statements();

  // ALREADY_EXISTS (naming mls_id, or listing_key) when a listing, deleted
  // ones included, has its mls_id or (originating system, listing key).
  absl::StatusOr<PropertyRecord> Create(const PropertyRecord& listing, int64_t actor_id,
                                        const std::string& request_id);
  // Live listings only: NOT_FOUND otherwise.
  absl::StatusOr<PropertyRecord> Get(int64_t id);
  absl::StatusOr<PropertyRecord> GetByMlsId(const std::string& mls_id);
  absl::StatusOr<std::vector<PropertyRecord>> List(const ListQuery& query);

  // The reads above without blocking, on the pipelined reader: `done` runs
  // on the reader's thread and must not block. Only when HasAsyncReads().
  template <typename T>
  using Done = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;
  bool HasAsyncReads() const { return reader_ != nullptr; }
  // The row as it comes (none: no such listing), like ListAsync's.
  void GetAsync(int64_t id, Done<db::Rows> done);
  void GetByMlsIdAsync(const std::string& mls_id, Done<db::Rows> done);
  // The page's rows as they come (the columns of a listing: PropertyRecord's
  // names, times in microseconds), for the service to write straight into
  // its answer (db::RowEncoder).
  void ListAsync(const ListQuery& query, Done<db::Rows> done);

  // ABORTED when `expected_version` (if non-zero) is not the current one.
  // A change that changes nothing writes nothing. A status change stamps
  // status_change_timestamp, a price change price_change_timestamp.
  absl::StatusOr<PropertyRecord> Update(int64_t id, int64_t expected_version, int64_t actor_id,
                                        const std::string& request_id, Allow allow, Change change);
  // Upserts `rows` in one transaction (see ImportProperties in the proto):
  // matched by (originating system, listing key), else by mls_id; created,
  // updated (a deleted match restored), or unchanged and not written. Stops
  // before a row whose listing an earlier row of the call touched (its
  // outcome's `consumed`). A row whose keys point at two different listings
  // fails on its own. Each created or changed row's events go to the outbox.
  // ALREADY_EXISTS (nothing written) when another writer created one of the
  // rows' listings meanwhile: run again, the row finds it.
  absl::StatusOr<ImportOutcome> Import(const std::vector<ImportRow>& rows, int64_t actor_id);
  // What an earlier import of this caller with this request_id answered
  // (the bytes FinishImport kept); nullopt when none did.
  absl::StatusOr<std::optional<std::string>> ImportAnswer(int64_t actor_id,
                                                          const std::string& request_id);
  // The import's own event (property.imported, its counts) and, with a
  // request_id, its answer for retries.
  absl::Status FinishImport(int64_t actor_id, const std::string& request_id,
                            const std::string& details_json, const std::string& answer);

  // Soft delete; returns when it happened.
  absl::StatusOr<absl::Time> Delete(int64_t id, int64_t expected_version, int64_t actor_id,
                                    const std::string& request_id, Allow allow);

 private:
  struct ListStatement {
    std::string sql;
    std::vector<std::string> params;
  };
  ListStatement ListSql(const ListQuery& query) const;

  db::Pool* const pool_;
  db::PipelinedReader* const reader_;
  const int free_text_walk_;
};

}  // namespace crm::properties
