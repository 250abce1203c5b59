#include "common/db/errors.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "common/log/log.h"

namespace crm::db {

absl::StatusCode CodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate == "23505") {  // unique_violation
    return absl::StatusCode::kAlreadyExists;
  }
  if (sqlstate == "23503") {  // foreign_key_violation
    return absl::StatusCode::kFailedPrecondition;
  }
  if (absl::StartsWith(sqlstate, "23") || absl::StartsWith(sqlstate, "22")) {
    // Other integrity violations (check, not null, exclusion) and data
    // exceptions (bad number, value too long): the request carried bad data.
    return absl::StatusCode::kInvalidArgument;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {  // serialization failure, deadlock
    return absl::StatusCode::kAborted;
  }
  if (sqlstate == "57014") {  // query_canceled (statement_timeout)
    return absl::StatusCode::kDeadlineExceeded;
  }
  if (sqlstate == "55P03") {  // lock_not_available (lock_timeout / NOWAIT)
    return absl::StatusCode::kAborted;
  }
  if (absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "53300") {
    // Connection failures, server shutting down or starting, too many clients.
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(sqlstate, "53")) {  // insufficient resources (disk full, out of memory)
    return absl::StatusCode::kResourceExhausted;
  }
  return absl::StatusCode::kInternal;
}

bool IsRetryableSqlState(absl::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";
}

bool IsRefusedDataSqlState(absl::string_view sqlstate) {
  return absl::StartsWith(sqlstate, "22") || absl::StartsWith(sqlstate, "23") ||
         absl::StartsWith(sqlstate, "54");
}

std::string SqlState(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
      sql != nullptr && !sql->sqlstate().empty()) {
    return sql->sqlstate();
  }
  // Most specific classes first: several derive from one another. In 6.4
  // the transaction_rollback family does not even derive from sql_error.
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) {
    return "40001";
  }
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return "40P01";
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return "40003";
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return "23505";
  }
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e) != nullptr) {
    return "23503";
  }
  if (dynamic_cast<const pqxx::not_null_violation*>(&e) != nullptr) {
    return "23502";
  }
  if (dynamic_cast<const pqxx::check_violation*>(&e) != nullptr) {
    return "23514";
  }
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr) {
    return "23000";
  }
  if (dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    return "22000";
  }
  if (dynamic_cast<const pqxx::too_many_connections*>(&e) != nullptr) {
    return "53300";
  }
  if (dynamic_cast<const pqxx::insufficient_resources*>(&e) != nullptr) {
    return "53000";
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return "40000";
  }
  return "";
}

namespace {

absl::string_view MessageFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kAlreadyExists:
      return "resource already exists";
    case absl::StatusCode::kFailedPrecondition:
      return "a referenced resource does not exist";
    case absl::StatusCode::kInvalidArgument:
      return "a value is out of range or malformed";
    case absl::StatusCode::kAborted:
      return "concurrent update conflict; retry the request";
    case absl::StatusCode::kDeadlineExceeded:
      return "database statement timed out";
    case absl::StatusCode::kUnavailable:
      return "database unavailable";
    case absl::StatusCode::kResourceExhausted:
      return "database out of resources";
    default:
      return "internal error";
  }
}

}  // namespace

absl::Status StatusFromException(const std::exception& e) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  std::string sqlstate;
  if (sqlstate = SqlState(e); !sqlstate.empty()) {
    code = CodeForSqlState(sqlstate);
  } else if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    code = absl::StatusCode::kUnavailable;
  } else if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    // The commit may or may not have happened; the client must check.
    code = absl::StatusCode::kUnknown;
  }
  log::Line(code == absl::StatusCode::kInternal ? log::Level::kError : log::Level::kWarning,
            "database error")
      .Str("sqlstate", sqlstate)
      .Str("code", absl::StatusCodeToString(code))
      .Str("detail", e.what());
  if (code == absl::StatusCode::kUnknown) {
    return absl::UnknownError("database commit outcome unknown; check before retrying");
  }
  return absl::Status(code, MessageFor(code));
}

}  // namespace crm::db
