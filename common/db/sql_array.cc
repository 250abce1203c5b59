#include "common/db/sql_array.h"

#include "absl/strings/str_cat.h"

namespace crm::db {

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& value : values) {
    if (out.size() > 1) {
      out.push_back(',');
    }
    out.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string ArrayLiteral(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (const int64_t value : values) {
    if (out.size() > 1) {
      out.push_back(',');
    }
    absl::StrAppend(&out, value);
  }
  out.push_back('}');
  return out;
}

}  // namespace crm::db
