#pragma once

// A result row's fields by column name, as text, whether the row came from
// libpqxx or from the PipelinedReader: one decoder per record type serves
// both paths, and none goes through iostreams.
//
//   LeadRecord ParseLead(const db::RowFields& f) {
//     lead.id = f.Int64("id");
//     lead.name = f.Str("name");
//     if (!f.IsNull("assigned_at")) lead.assigned_at =
//     timestamp::FromMicros(f.Int64("assigned_at"));
//   }
//   ParseLead(db::RowFields(pqxx_row));
//   ParseLead(db::RowFields(rows, 0));

#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/string_view.h"
#include "common/db/pipelined_reader.h"

namespace crm::db {

class RowFields {
 public:
  explicit RowFields(const pqxx::row& row) : pqxx_row_(&row) {}
  RowFields(const Rows& rows, int row) : rows_(&rows), row_(row) {}

  // "" for NULL and for a column the row lacks.
  absl::string_view Text(const char* column) const;
  bool IsNull(const char* column) const;
  std::string Str(const char* column) const { return std::string(Text(column)); }
  // 0 for NULL or text that is not a number.
  int64_t Int64(const char* column) const;
  // PostgreSQL's text form of a boolean is "t" or "f".
  bool Bool(const char* column) const { return Text(column) == "t"; }

 private:
  const pqxx::row* pqxx_row_ = nullptr;
  const Rows* rows_ = nullptr;
  int row_ = 0;
};

}  // namespace crm::db
