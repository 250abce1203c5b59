#pragma once

// Maps database failures to canonical status codes, in one place. The
// returned messages are generic on purpose: SQL text, constraint names and
// row values stay in the server log and never reach a client.

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::db {

// The status code for a PostgreSQL SQLSTATE (e.g. "23505" → ALREADY_EXISTS).
absl::StatusCode CodeForSqlState(absl::string_view sqlstate);

// True for errors after which the same transaction may simply be run again:
// serialization failures (40001) and deadlocks (40P01).
bool IsRetryableSqlState(absl::string_view sqlstate);

// True for errors that are the data's fault (data exceptions 22, integrity
// violations 23, program limits 54 such as an index row too large): running
// the same statement again cannot help, but the other rows of a batch may
// be stored without the one refused.
bool IsRefusedDataSqlState(absl::string_view sqlstate);

// The SQLSTATE of a libpqxx error. libpqxx 6.4 leaves sqlstate() empty for
// some errors (serialization failures among them), so it is then derived from
// the exception's class.
std::string SqlState(const std::exception& e);

// Converts an exception thrown by libpqxx (or anything else) while talking to
// the database into a client-safe status, and logs the detail server-side.
absl::Status StatusFromException(const std::exception& e);

}  // namespace crm::db
