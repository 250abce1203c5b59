#include "common/db/errors.h"

#include <pqxx/except>
#include <stdexcept>
#include <string>

#include "gtest/gtest.h"

namespace crm::db {
namespace {

TEST(DbErrorsTest, MapsSqlStates) {
  EXPECT_EQ(CodeForSqlState("23505"), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeForSqlState("23503"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeForSqlState("23514"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForSqlState("23502"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForSqlState("22001"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeForSqlState("40P01"), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeForSqlState("57014"), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForSqlState("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForSqlState("53300"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForSqlState("53100"), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeForSqlState("42P01"), absl::StatusCode::kInternal);
  EXPECT_EQ(CodeForSqlState("42501"), absl::StatusCode::kInternal);
}

TEST(DbErrorsTest, OnlySerializationAndDeadlockAreRetryable) {
  EXPECT_TRUE(IsRetryableSqlState("40001"));
  EXPECT_TRUE(IsRetryableSqlState("40P01"));
  EXPECT_FALSE(IsRetryableSqlState("23505"));
  EXPECT_FALSE(IsRetryableSqlState("08006"));
}

TEST(DbErrorsTest, OnlyTheDatasFaultIsARefusedRow) {
  for (const char* state : {"22P02", "22001", "23514", "23505", "54000", "54001"}) {
    EXPECT_TRUE(IsRefusedDataSqlState(state)) << state;
  }
  for (const char* state : {"08006", "40001", "57014", "53100", "XX000", ""}) {
    EXPECT_FALSE(IsRefusedDataSqlState(state)) << state;
  }
}

TEST(DbErrorsTest, MessagesNeverCarrySqlOrValues) {
  pqxx::unique_violation e(
      "ERROR: duplicate key value violates unique constraint \"users_email_key\"\n"
      "DETAIL: Key (email)=(secret@example.com) already exists.",
      "INSERT INTO users (email) VALUES ($1)", "23505");
  absl::Status status = StatusFromException(e);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  const std::string message(status.message());
  EXPECT_EQ(message.find("secret@example.com"), std::string::npos);
  EXPECT_EQ(message.find("INSERT"), std::string::npos);
  EXPECT_EQ(message.find("users_email_key"), std::string::npos);
}

TEST(DbErrorsTest, SqlStateFallsBackToExceptionClass) {
  // libpqxx 6.4 throws some errors without their SQLSTATE.
  EXPECT_EQ(SqlState(pqxx::serialization_failure("could not serialize access")), "40001");
  EXPECT_EQ(SqlState(pqxx::deadlock_detected("deadlock detected")), "40P01");
  EXPECT_EQ(SqlState(pqxx::unique_violation("duplicate key")), "23505");
  EXPECT_EQ(SqlState(pqxx::unique_violation("duplicate key", "", "23505")), "23505");
  EXPECT_EQ(SqlState(std::runtime_error("not sql")), "");
  EXPECT_EQ(StatusFromException(pqxx::serialization_failure("could not serialize")).code(),
            absl::StatusCode::kAborted);
}

TEST(DbErrorsTest, BrokenConnectionIsUnavailable) {
  EXPECT_EQ(StatusFromException(pqxx::broken_connection("server closed the connection")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(DbErrorsTest, InDoubtCommitIsUnknown) {
  EXPECT_EQ(StatusFromException(pqxx::in_doubt_error("lost connection during commit")).code(),
            absl::StatusCode::kUnknown);
}

TEST(DbErrorsTest, AnythingElseIsInternalWithGenericMessage) {
  absl::Status status = StatusFromException(std::runtime_error("column \"password_hash\" oops"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "internal error");
}

}  // namespace
}  // namespace crm::db
