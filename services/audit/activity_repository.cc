#include "services/audit/activity_repository.h"

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/db/errors.h"
#include "common/db/sql_array.h"
#include "common/db/where_clause.h"
#include "common/timestamp/timestamp.h"
#include "services/audit/activity_hash.h"

namespace crm::audit {
namespace {

// Serialises appenders across every audit replica on this database.
constexpr int64_t kAppendLockKey = 0x63726d5f617564;  // "crm_aud"

// Timestamps travel as text with microseconds, which PostgreSQL parses
// exactly (an epoch offset would go through a double).
std::string TimestampText(int64_t micros) {
  return timestamp::SqlText(timestamp::FromMicros(micros));
}

const std::string& Columns() {
  static const std::string* const columns = new std::string(absl::StrCat(
      "id AS seq, event_id::text, user_id, action, ",
      timestamp::MicrosColumn("\"timestamp\"", "occurred_at"),
      ", service, entity_type, entity_id, details_json, encode(prev_hash, 'hex') AS prev_hash, "
      "encode(hash, 'hex') AS hash, ",
      timestamp::MicrosColumn("record_time")));
  return *columns;
}

StoredActivity FromRow(const pqxx::row& row) {
  StoredActivity a;
  a.seq = row["seq"].as<int64_t>();
  a.event.event_id = row["event_id"].as<std::string>();
  a.event.user_id = row["user_id"].as<int64_t>();
  a.event.action = row["action"].as<std::string>();
  a.event.occurred_at_micros = row["occurred_at"].as<int64_t>();
  a.event.service = row["service"].as<std::string>();
  a.event.entity_type = row["entity_type"].as<std::string>();
  a.event.entity_id = row["entity_id"].as<int64_t>();
  a.event.details_json = row["details_json"].as<std::string>();
  a.prev_hash = absl::HexStringToBytes(row["prev_hash"].as<std::string>());
  a.hash = absl::HexStringToBytes(row["hash"].as<std::string>());
  a.record_time_micros = row["record_time"].as<int64_t>();
  return a;
}

// The filter's conditions; every value is a parameter.
db::WhereClause Where(const ActivityFilter& filter) {
  db::WhereClause where;
  if (filter.user_id != 0) {
    where.Add("user_id = ", absl::StrCat(filter.user_id), "::bigint");
  }
  if (!filter.entity_type.empty()) {
    where.Add("entity_type = ", filter.entity_type, "::text");
  }
  if (filter.entity_id != 0) {
    where.Add("entity_id = ", absl::StrCat(filter.entity_id), "::bigint");
  }
  if (!filter.action.empty()) {
    where.Add("action = ", filter.action, "::text");
  }
  if (!filter.actions.empty()) {
    where.Add("action = ANY(", db::ArrayLiteral(filter.actions), "::text[])");
  }
  if (!filter.service.empty()) {
    where.Add("service = ", filter.service, "::text");
  }
  if (filter.start_micros.has_value()) {
    where.Add("\"timestamp\" >= ", TimestampText(*filter.start_micros), "::timestamptz");
  }
  if (filter.end_micros.has_value()) {
    where.Add("\"timestamp\" < ", TimestampText(*filter.end_micros), "::timestamptz");
  }
  return where;
}

std::vector<StoredActivity> Rows(const pqxx::result& result) {
  std::vector<StoredActivity> rows;
  rows.reserve(result.size());
  for (const pqxx::row& row : result) {
    rows.push_back(FromRow(row));
  }
  return rows;
}

// One activity to insert, with its place in the chain.
struct ChainedRow {
  size_t index;  // into the batch
  int64_t seq;
  std::string prev_hash;
  std::string hash;
};

void InsertRows(pqxx::transaction_base& tx, const std::vector<Event>& events,
                const std::vector<ChainedRow>& rows) {
  // One array per column, one element per row (activities_insert).
  std::vector<std::string> columns[11];
  for (std::vector<std::string>& column : columns) {
    column.reserve(rows.size());
  }
  for (const ChainedRow& row : rows) {
    const Event& e = events[row.index];
    int c = 0;
    for (std::string value :
         {absl::StrCat(row.seq), e.event_id, absl::StrCat(e.user_id), e.action,
          TimestampText(e.occurred_at_micros), e.service, e.entity_type, absl::StrCat(e.entity_id),
          e.details_json, absl::StrCat("\\x", absl::BytesToHexString(row.prev_hash)),
          absl::StrCat("\\x", absl::BytesToHexString(row.hash))}) {
      columns[c++].push_back(std::move(value));
    }
  }
  tx.exec_prepared(
      "activities_insert", db::ArrayLiteral(columns[0]), db::ArrayLiteral(columns[1]),
      db::ArrayLiteral(columns[2]), db::ArrayLiteral(columns[3]), db::ArrayLiteral(columns[4]),
      db::ArrayLiteral(columns[5]), db::ArrayLiteral(columns[6]), db::ArrayLiteral(columns[7]),
      db::ArrayLiteral(columns[8]), db::ArrayLiteral(columns[9]), db::ArrayLiteral(columns[10]));
}

// Inserts `rows` inside a savepoint; when the database refuses them, rolls
// back to it (the transaction goes on) and returns the SQLSTATE.
std::optional<std::string> InsertInSavepoint(pqxx::work& tx, const std::vector<Event>& events,
                                             const std::vector<ChainedRow>& rows) {
  tx.exec("SAVEPOINT append");
  try {
    InsertRows(tx, events, rows);
  } catch (const pqxx::sql_error& e) {
    // The data's fault: leaving the event out lets the rest go in. Anything
    // else (a lost connection, a timeout) fails the batch, which is resent.
    std::string state = db::SqlState(e);
    if (!db::IsRefusedDataSqlState(state)) {
      throw;
    }
    tx.exec("ROLLBACK TO SAVEPOINT append");
    return state;
  }
  tx.exec("RELEASE SAVEPOINT append");
  return std::nullopt;
}

}  // namespace

std::vector<db::PreparedStatement> ActivityRepository::Statements() {
  return {
      // A batch as one array per column: one statement text whatever the
      // batch's size, prepared once per connection.
      {"activities_insert",
       "INSERT INTO activities (id, event_id, user_id, action, \"timestamp\", service, "
       "entity_type, entity_id, details_json, prev_hash, hash) "
       "SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[], "
       "$5::timestamptz[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bytea[], "
       "$11::bytea[])"},
  };
}

absl::StatusOr<std::vector<AppendResult>> ActivityRepository::Append(
    const std::vector<Event>& events) {
  std::vector<AppendResult> results;
  if (events.empty()) {
    return results;
  }
  absl::Status status = pool_->Transact([&](pqxx::work& tx) {
    results.assign(events.size(), AppendResult{});
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kAppendLockKey);

    // Event ids stored before, and repeats inside this batch.
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (const Event& e : events) {
      ids.push_back(e.event_id);
    }
    std::map<std::string, int64_t, std::less<>> stored;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT event_id::text, id FROM activities WHERE event_id = ANY($1::uuid[])",
             db::ArrayLiteral(ids))) {
      stored.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
    }

    int64_t seq = 0;
    std::string prev_hash = GenesisHash();
    if (const pqxx::result head =
            tx.exec("SELECT id, encode(hash, 'hex') FROM activities ORDER BY id DESC LIMIT 1");
        !head.empty()) {
      seq = head[0][0].as<int64_t>();
      prev_hash = absl::HexStringToBytes(head[0][1].as<std::string>());
    }

    // Event i's first copy in this batch (itself unless repeated).
    std::vector<size_t> first(events.size());
    std::vector<size_t> fresh;  // events to insert, in order
    {
      std::map<std::string, size_t, std::less<>> seen;
      for (size_t i = 0; i < events.size(); ++i) {
        const Event& e = events[i];
        if (auto it = stored.find(e.event_id); it != stored.end()) {
          results[i] = {.seq = it->second, .duplicate = true, .rejected = ""};
          first[i] = i;
          continue;
        }
        auto [it, inserted] = seen.emplace(e.event_id, i);
        first[i] = it->second;
        if (inserted) {
          fresh.push_back(i);
        }
      }
    }
    auto chain = [&](int64_t from_seq, const std::string& from_hash,
                     const std::vector<size_t>& which) {
      std::vector<ChainedRow> rows;
      rows.reserve(which.size());
      std::string prev = from_hash;
      for (size_t i : which) {
        const int64_t row_seq = from_seq + 1 + static_cast<int64_t>(rows.size());
        std::string hash = ChainHash(prev, row_seq, events[i]);
        rows.push_back({.index = i, .seq = row_seq, .prev_hash = prev, .hash = hash});
        prev = std::move(hash);
      }
      return rows;
    };
    // The whole batch in one statement; if the database refuses it, one
    // event at a time, so only the events it refuses are left out and the
    // chain stays gap-free over the rest.
    const std::vector<ChainedRow> batch_rows = chain(seq, prev_hash, fresh);
    const bool one_by_one = !fresh.empty() && InsertInSavepoint(tx, events, batch_rows).has_value();
    for (size_t k = 0; k < fresh.size(); ++k) {
      const size_t i = fresh[k];
      if (one_by_one) {
        const std::vector<ChainedRow> row = chain(seq, prev_hash, {i});
        if (std::optional<std::string> refused = InsertInSavepoint(tx, events, row)) {
          results[i].rejected =
              absl::StrCat("the audit database cannot store this event (SQLSTATE ", *refused, ")");
          continue;
        }
        prev_hash = row[0].hash;
      } else {
        prev_hash = batch_rows[k].hash;
      }
      ++seq;
      results[i] = {.seq = seq, .duplicate = false, .rejected = ""};
    }
    // Repeats inside the batch follow their first copy.
    for (size_t i = 0; i < events.size(); ++i) {
      if (first[i] != i) {
        results[i] = results[first[i]];
        results[i].duplicate = results[i].rejected.empty();
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  return results;
}

absl::StatusOr<std::vector<StoredActivity>> ActivityRepository::List(
    const ActivityFilter& filter, bool newest_first, std::optional<int64_t> after_seq, int limit) {
  db::WhereClause where = Where(filter);
  if (after_seq.has_value()) {
    where.Add(newest_first ? "id < " : "id > ", absl::StrCat(*after_seq), "::bigint");
  }
  const std::string sql =
      absl::StrCat("SELECT ", Columns(), " FROM activities", where.sql(), " ORDER BY id ",
                   newest_first ? "DESC" : "ASC", " LIMIT ", limit);
  std::vector<StoredActivity> rows;
  absl::Status status = pool_->Read([&](pqxx::nontransaction& tx) {
    rows = Rows(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(where.params())));
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  return rows;
}

absl::StatusOr<FeedPage> ActivityRepository::ReadFeed(int64_t from_seq,
                                                      const ActivityFilter& filter, int limit) {
  db::WhereClause where = Where(filter);
  where.Add("id >= ", absl::StrCat(from_seq), "::bigint");
  // One statement, so the head and the rows come from one snapshot: every
  // seq up to the head is either returned or known not to match.
  const std::string sql = absl::StrCat(
      "WITH head AS (SELECT coalesce(max(id), 0) AS seq FROM activities) "
      "SELECT (SELECT seq FROM head) AS head_seq, r.* FROM (SELECT ",
      Columns(), " FROM activities", where.sql(),
      " AND id <= (SELECT seq FROM head) ORDER BY id LIMIT ", limit,
      ") r RIGHT JOIN (SELECT 1) one ON true");
  FeedPage page;
  absl::Status status = pool_->Read([&](pqxx::nontransaction& tx) {
    page = FeedPage{};
    for (const pqxx::row& row :
         tx.exec_params(sql, pqxx::prepare::make_dynamic_params(where.params()))) {
      page.considered_through = row["head_seq"].as<int64_t>();
      if (row["seq"].is_null()) {
        continue;  // no matching row: the join's single filler row
      }
      page.activities.push_back(FromRow(row));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  if (static_cast<int>(page.activities.size()) == limit) {
    // A full page: only what it returned has been considered.
    page.considered_through = page.activities.back().seq;
  }
  return page;
}

absl::StatusOr<int64_t> ActivityRepository::HeadSeq() {
  int64_t head = 0;
  absl::Status status = pool_->Read([&](pqxx::nontransaction& tx) {
    head = tx.exec("SELECT coalesce(max(id), 0) FROM activities")[0][0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  return head;
}

}  // namespace crm::audit
