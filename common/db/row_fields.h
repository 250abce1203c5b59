#pragma once

// A result row's fields by column name, whether the row came from libpqxx
// (text format) or from the PipelinedReader (binary format for numbers and
// booleans: a key or an access check read from rows that db::RowEncoder
// writes into an answer). None goes through iostreams.
//
//   LeadRecord ParseLead(const db::RowFields& f) {
//     lead.id = f.Int64("id");
//     lead.name = f.Str("name");
//     if (!f.IsNull("assigned_at")) lead.assigned_at =
//     timestamp::FromMicros(f.Int64("assigned_at"));
//   }
//   ParseLead(db::RowFields(pqxx_row));
//   ParseLead(db::RowFields(rows, 0));
//   db::ResultColumns columns(result);           // many rows: names resolved once
//   for (const pqxx::row& row : result) ParseLead(db::RowFields(row, &columns));

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/db/pipelined_reader.h"

namespace crm::db {

// The column numbers of one result by name, resolved once for all its rows
// (libpq's own lookup copies and lower-cases the name on every field).
// A decoder reads the fields of every row in the same order, mostly the
// select list's, so Find first tries the column after the one it found last:
// one comparison per field instead of a hash lookup. Not thread-safe (the
// hint changes); one per result, used by one thread.
class ResultColumns {
 public:
  explicit ResultColumns(const pqxx::result& result);
  // -1 for a column the result lacks.
  int Find(const char* name) const;

 private:
  std::vector<std::string> names_;  // by column number
  absl::flat_hash_map<std::string, int> index_;
  mutable size_t next_ = 0;
};

class RowFields {
 public:
  explicit RowFields(const pqxx::row& row, const ResultColumns* columns = nullptr)
      : pqxx_row_(&row), columns_(columns) {}
  RowFields(const Rows& rows, int row) : rows_(&rows), row_(row) {}

  // A text-like column's bytes: "" for NULL and for a column the row lacks.
  // Numbers and booleans go through the accessors below (in binary format
  // their bytes are not text).
  absl::string_view Text(const char* column) const;
  bool IsNull(const char* column) const;
  std::string Str(const char* column) const { return std::string(Text(column)); }
  // 0 for NULL or a field that is not an integer.
  int64_t Int64(const char* column) const;
  // nullopt for NULL (a time in microseconds that may be unknown, say).
  std::optional<int64_t> OptionalInt64(const char* column) const;
  // nullopt for NULL or a field that is not a number.
  std::optional<double> OptionalDouble(const char* column) const;
  // False for NULL.
  bool Bool(const char* column) const;

 private:
  struct Field {
    absl::string_view bytes;
    Rows::Kind kind = Rows::Kind::kText;
    bool null = true;
  };
  Field Get(const char* column) const;
  // A non-NULL field as an integer (0 when it is not one).
  static int64_t ToInt64(const Field& f);

  const pqxx::row* pqxx_row_ = nullptr;
  const Rows* rows_ = nullptr;
  int row_ = 0;
  const ResultColumns* columns_ = nullptr;
};

// Every row of a libpqxx result decoded by `parse(const RowFields&)`, its
// column names resolved once (the pipelined reader's rows are written
// straight into answers instead: db::RowEncoder):
//   std::vector<LeadRecord> leads = db::ParseRows(result, ParseLead);
template <typename Parse>
auto ParseRows(const pqxx::result& result, Parse parse) {
  using Record = std::decay_t<decltype(parse(std::declval<const RowFields&>()))>;
  const ResultColumns columns(result);
  std::vector<Record> records;
  records.reserve(result.size());
  for (const pqxx::row& row : result) {
    records.push_back(parse(RowFields(row, &columns)));
  }
  return records;
}

}  // namespace crm::db
