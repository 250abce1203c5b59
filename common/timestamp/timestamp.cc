#include "common/timestamp/timestamp.h"

#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace crm::timestamp {
namespace {

// 9999-12-31T23:59:59Z: the last second every client library can format.
constexpr int64_t kMaxSeconds = 253402300799;

}  // namespace

std::string MicrosColumn(absl::string_view column, absl::string_view alias) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::int8 AS ",
                      alias.empty() ? column : alias);
}

std::string SqlText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

SecondsNanos SplitMicros(int64_t micros) {
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    seconds -= 1;
    rest += 1000000;
  }
  return {.seconds = seconds, .nanos = static_cast<int32_t>(rest * 1000)};
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const SecondsNanos split = SplitMicros(ToMicros(t));
  out->set_seconds(split.seconds);
  out->set_nanos(split.nanos);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  ToProto(t, &out);
  return out;
}

absl::StatusOr<absl::Time> FromProto(const google::protobuf::Timestamp& ts,
                                     absl::string_view field) {
  if (ts.seconds() < 0 || ts.seconds() > kMaxSeconds || ts.nanos() < 0 || ts.nanos() > 999999999) {
    return InvalidArgumentError(field, "must be between 1970-01-01 and 9999-12-31");
  }
  return absl::FromUnixMicros(ts.seconds() * 1000000 + ts.nanos() / 1000);
}

}  // namespace crm::timestamp
