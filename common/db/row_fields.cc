#include "common/db/row_fields.h"

#include "absl/strings/numbers.h"

namespace crm::db {

absl::string_view RowFields::Text(const char* column) const {
  if (pqxx_row_ != nullptr) {
    const pqxx::field field = (*pqxx_row_)[column];
    return absl::string_view(field.c_str(), field.size());
  }
  return rows_->Get(row_, column);
}

bool RowFields::IsNull(const char* column) const {
  if (pqxx_row_ != nullptr) {
    return (*pqxx_row_)[column].is_null();
  }
  return rows_->IsNull(row_, column);
}

int64_t RowFields::Int64(const char* column) const {
  int64_t value = 0;
  return absl::SimpleAtoi(Text(column), &value) ? value : 0;
}

}  // namespace crm::db
