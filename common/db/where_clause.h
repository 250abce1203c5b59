#pragma once

// A WHERE clause built from fixed SQL fragments, every value a parameter, for
// queries whose filters are optional (List methods):
//
//   db::WhereClause where;
//   if (status) where.Add("status = ", *status, "::text");
//   where.AddSql("deleted_at IS NULL");
//   tx.exec_params("SELECT ... FROM leads" + where.sql() + " ORDER BY id DESC",
//                  pqxx::prepare::make_dynamic_params(where.params()));

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crm::db {

// A LIKE pattern matching `text` anywhere, its own %, _ and \ escaped:
// where.Add("search_text LIKE ", ContainsPattern(query), "::text").
inline std::string ContainsPattern(absl::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') {
      pattern.push_back('\\');
    }
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

// A tsquery (to_tsquery's input) that matches text holding every word of
// `text`, each as a prefix: "Maple sp" → "'maple':* & 'sp':*". Words are
// runs of ASCII letters and digits and of non-ASCII bytes (UTF-8 letters),
// lower-cased; everything else separates them, so nothing in `text` can be
// tsquery syntax. "" when `text` has no word. At most `max_words` words.
inline std::string PrefixTsQuery(absl::string_view text, int max_words = 16) {
  std::string query;
  std::string word;
  int words = 0;
  auto flush = [&] {
    if (!word.empty() && words < max_words) {
      absl::StrAppend(&query, query.empty() ? "" : " & ", "'", word, "':*");
      ++words;
    }
    word.clear();
  };
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      word.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      word.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      flush();
    }
  }
  flush();
  return query;
}

class WhereClause {
 public:
  // Adds `<lhs>$n<rhs>` with `value` as parameter n (`rhs` is a cast, or the
  // rest of the condition, e.g. "::text").
  void Add(absl::string_view lhs, std::string value, absl::string_view rhs) {
    params_.push_back(std::move(value));
    AddSql(absl::StrCat(lhs, "$", params_.size(), rhs));
  }

  // Adds a condition over several values, `parts` around them (one more
  // part than values): Add({"(created_at, id) < (", "::timestamptz, ",
  // "::int8)"}, {time, id}).
  void Add(std::initializer_list<absl::string_view> parts, std::vector<std::string> values) {
    std::string condition;
    auto part = parts.begin();
    for (std::string& value : values) {
      params_.push_back(std::move(value));
      absl::StrAppend(&condition, *part++, "$", params_.size());
    }
    if (part != parts.end()) {
      absl::StrAppend(&condition, *part);
    }
    AddSql(condition);
  }

  // Adds a condition with no value. `condition` must be fixed text.
  void AddSql(absl::string_view condition) {
    absl::StrAppend(&sql_, sql_.empty() ? " WHERE " : " AND ", condition);
  }

  // " WHERE a AND b" ("" with no condition).
  const std::string& sql() const { return sql_; }
  const std::vector<std::string>& params() const { return params_; }
  // "$<n>" for the next parameter added (for a LIMIT after the conditions).
  std::string NextParam() const { return absl::StrCat("$", params_.size() + 1); }

 private:
  std::string sql_;
  std::vector<std::string> params_;
};

}  // namespace crm::db
