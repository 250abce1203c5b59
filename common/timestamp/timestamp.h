#pragma once

// The one conversion of instants between PostgreSQL, absl::Time and
// google.protobuf.Timestamp. PostgreSQL keeps microseconds, so instants
// cross the SQL boundary as exact microseconds since the epoch (never a
// float8 of seconds, which loses the last digit):
//
//   "SELECT id, " + timestamp::MicrosColumn("created_at") + " FROM leads ..."
//   record.created_at = timestamp::FromMicros(row["created_at"].as<int64_t>());
//   timestamp::ToProto(record.created_at, lead->mutable_create_time());
//
// and into SQL as text PostgreSQL parses exactly (SqlText, cast with
// `$1::timestamptz`): arithmetic on an epoch offset goes through float8
// (to_timestamp, interval * n) and rounds far-off instants.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::timestamp {

// A select-list item: timestamptz `column` as int8 microseconds since the
// epoch, named `alias` (default: the column's own name).
std::string MicrosColumn(absl::string_view column, absl::string_view alias = "");

inline absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }
// An optional time (a NULL column): FromMicros(fields.OptionalInt64("assigned_at")).
inline std::optional<absl::Time> FromMicros(std::optional<int64_t> micros) {
  return micros.has_value() ? std::optional<absl::Time>(FromMicros(*micros)) : std::nullopt;
}
inline int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

// "2026-12-01T14:20:00.123456Z": a timestamptz literal PostgreSQL parses
// exactly.
std::string SqlText(absl::Time t);

// Microseconds since the epoch as a Timestamp's seconds and nanos (nanos
// never negative: -1 µs is -1 s + 999 999 000 ns).
struct SecondsNanos {
  int64_t seconds = 0;
  int32_t nanos = 0;
};
SecondsNanos SplitMicros(int64_t micros);

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
google::protobuf::Timestamp ToProto(absl::Time t);

// A timestamp from a request: INVALID_ARGUMENT naming `field` outside
// 1970-01-01 .. 9999-12-31 or with nanos out of range. Truncated to the
// microsecond, as it will be stored.
absl::StatusOr<absl::Time> FromProto(const google::protobuf::Timestamp& ts,
                                     absl::string_view field);

}  // namespace crm::timestamp
