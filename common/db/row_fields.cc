#include "common/db/row_fields.h"

#include "absl/strings/numbers.h"

namespace crm::db {

ResultColumns::ResultColumns(const pqxx::result& result) {
  for (pqxx::row::size_type i = 0; i < result.columns(); ++i) {
    names_.emplace_back(result.column_name(i));
  }
  for (size_t i = 0; i < names_.size(); ++i) {
    index_.emplace(names_[i], static_cast<int>(i));
  }
}

ResultColumns::ResultColumns(const Rows& rows) {
  for (int i = 0; i < rows.columns(); ++i) {
    names_.emplace_back(rows.ColumnName(i));
  }
  for (size_t i = 0; i < names_.size(); ++i) {
    index_.emplace(names_[i], static_cast<int>(i));
  }
}

int ResultColumns::Find(absl::string_view name) const {
  if (next_ < names_.size() && names_[next_] == name) {
    return static_cast<int>(next_++);
  }
  // The same column again (IsNull, then its value).
  if (next_ > 0 && next_ <= names_.size() && names_[next_ - 1] == name) {
    return static_cast<int>(next_ - 1);
  }
  auto it = index_.find(name);
  if (it == index_.end()) {
    return -1;
  }
  next_ = static_cast<size_t>(it->second) + 1;
  return it->second;
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
