#include "common/db/row_fields.h"

#include "absl/strings/numbers.h"

namespace crm::db {

ResultColumns::ResultColumns(const pqxx::result& result) {
  for (pqxx::row::size_type i = 0; i < result.columns(); ++i) {
    index_.emplace(result.column_name(i), static_cast<int>(i));
  }
}

ResultColumns::ResultColumns(const Rows& rows) {
  for (int i = 0; i < rows.columns(); ++i) {
    index_.emplace(std::string(rows.ColumnName(i)), i);
  }
}

int ResultColumns::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

absl::string_view RowFields::Text(const char* column) const {
  if (pqxx_row_ != nullptr) {
    if (columns_ == nullptr) {
      const pqxx::field field = (*pqxx_row_)[column];
      return absl::string_view(field.c_str(), field.size());
    }
    const int i = columns_->Find(column);
    if (i < 0) {
      return absl::string_view();
    }
    const pqxx::field field = (*pqxx_row_)[static_cast<pqxx::row::size_type>(i)];
    return absl::string_view(field.c_str(), field.size());
  }
  if (columns_ == nullptr) {
    return rows_->Get(row_, column);
  }
  const int i = columns_->Find(column);
  return i < 0 ? absl::string_view() : rows_->Get(row_, i);
}

bool RowFields::IsNull(const char* column) const {
  if (pqxx_row_ != nullptr) {
    if (columns_ == nullptr) {
      return (*pqxx_row_)[column].is_null();
    }
    const int i = columns_->Find(column);
    return i < 0 || (*pqxx_row_)[static_cast<pqxx::row::size_type>(i)].is_null();
  }
  if (columns_ == nullptr) {
    return rows_->IsNull(row_, column);
  }
  const int i = columns_->Find(column);
  return i < 0 || rows_->IsNull(row_, i);
}

int64_t RowFields::Int64(const char* column) const {
  int64_t value = 0;
  return absl::SimpleAtoi(Text(column), &value) ? value : 0;
}

}  // namespace crm::db
