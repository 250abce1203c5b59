#pragma once

// PostgreSQL array literals, for passing a batch as one parameter of a
// prepared statement (`INSERT ... SELECT * FROM unnest($1::bigint[], ...)`)
// instead of building a statement with one placeholder per value. libpqxx
// 6.4 has no array parameters of its own.
//
//   tx.exec_prepared("activities_insert", db::ArrayLiteral(ids), db::ArrayLiteral(names));

#include <cstdint>
#include <string>
#include <vector>

namespace crm::db {

// `values` as an array literal whose every element is quoted, so any text
// (quotes, backslashes, braces, commas, "NULL", the empty string) comes back
// exactly as given. Cast it in SQL to the element type wanted: $1::text[],
// $2::bigint[], $3::bytea[] (bytea elements in hex form, "\x...").
std::string ArrayLiteral(const std::vector<std::string>& values);

// Integers ($1::bigint[]): a batch of ids.
std::string ArrayLiteral(const std::vector<int64_t>& values);

}  // namespace crm::db
