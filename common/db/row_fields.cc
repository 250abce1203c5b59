#include "common/db/row_fields.h"

#include <cstring>

#include "absl/base/casts.h"
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

int ResultColumns::Find(const char* name) const {
  // strcmp: one pass over the name, no strlen before the comparison.
  if (next_ < names_.size() && std::strcmp(names_[next_].c_str(), name) == 0) {
    return static_cast<int>(next_++);
  }
  // The same column again (IsNull, then its value).
  if (next_ > 0 && next_ <= names_.size() && std::strcmp(names_[next_ - 1].c_str(), name) == 0) {
    return static_cast<int>(next_ - 1);
  }
  auto it = index_.find(name);
  if (it == index_.end()) {
    return -1;
  }
  next_ = static_cast<size_t>(it->second) + 1;
  return it->second;
}

namespace {

// PostgreSQL's binary integers and floats are big-endian.
uint64_t BigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (unsigned char byte : bytes) {
    value = (value << 8) | byte;
  }
  return value;
}

}  // namespace

RowFields::Field RowFields::Get(const char* column) const {
  if (pqxx_row_ != nullptr) {
    const int i = columns_ == nullptr ? -2 : columns_->Find(column);
    if (i == -1) {
      return Field{};
    }
    const pqxx::field field =
        i < 0 ? (*pqxx_row_)[column] : (*pqxx_row_)[static_cast<pqxx::row::size_type>(i)];
    return Field{.bytes = absl::string_view(field.c_str(), field.size()),
                 .kind = Rows::Kind::kText,
                 .null = field.is_null()};
  }
  const int i = rows_->ColumnNumber(column);
  if (i < 0) {
    return Field{};
  }
  return Field{
      .bytes = rows_->Get(row_, i), .kind = rows_->ColumnKind(i), .null = rows_->IsNull(row_, i)};
}

absl::string_view RowFields::Text(const char* column) const { return Get(column).bytes; }

bool RowFields::IsNull(const char* column) const { return Get(column).null; }

int64_t RowFields::Int64(const char* column) const {
  const Field f = Get(column);
  return f.null ? 0 : ToInt64(f);
}

std::optional<int64_t> RowFields::OptionalInt64(const char* column) const {
  const Field f = Get(column);
  return f.null ? std::nullopt : std::optional<int64_t>(ToInt64(f));
}

int64_t RowFields::ToInt64(const Field& f) {
  switch (f.kind) {
    case Rows::Kind::kInt: {
      // Sign-extended from the field's width (2, 4 or 8 bytes).
      const int bits = static_cast<int>(f.bytes.size()) * 8;
      if (bits == 0 || bits > 64) {
        return 0;
      }
      const uint64_t raw = BigEndian(f.bytes);
      return bits == 64 ? static_cast<int64_t>(raw)
                        : static_cast<int64_t>(raw << (64 - bits)) >> (64 - bits);
    }
    case Rows::Kind::kBool:
      return f.bytes == absl::string_view("\1", 1) ? 1 : 0;
    case Rows::Kind::kText: {
      int64_t value = 0;
      return absl::SimpleAtoi(f.bytes, &value) ? value : 0;
    }
    default:
      return 0;
  }
}

std::optional<double> RowFields::OptionalDouble(const char* column) const {
  const Field f = Get(column);
  if (f.null) {
    return std::nullopt;
  }
  switch (f.kind) {
    case Rows::Kind::kFloat:
      if (f.bytes.size() == 8) {
        return absl::bit_cast<double>(BigEndian(f.bytes));
      }
      if (f.bytes.size() == 4) {
        return absl::bit_cast<float>(static_cast<uint32_t>(BigEndian(f.bytes)));
      }
      return std::nullopt;
    case Rows::Kind::kInt:
      return static_cast<double>(ToInt64(f));
    case Rows::Kind::kText: {
      double value = 0;
      return absl::SimpleAtod(f.bytes, &value) ? std::optional<double>(value) : std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

bool RowFields::Bool(const char* column) const {
  const Field f = Get(column);
  if (f.null) {
    return false;
  }
  // PostgreSQL's text form of a boolean is "t" or "f"; its binary form a byte.
  return f.kind == Rows::Kind::kBool ? f.bytes == absl::string_view("\1", 1) : f.bytes == "t";
}

}  // namespace crm::db
