#pragma once

// The records of a RESO feed file, one at a time, in memory bounded by the
// largest record: a RESO Web API payload ({"@odata.context": ..., "value":
// [{...}, ...]}, or a bare JSON array of records), or newline-delimited JSON
// (one record per line). Decimal numbers reach the caller as their text
// (json strings), so a price is never rounded through a double. A UTF-8 byte
// order mark at the start is skipped.
//
//   FeedReader::Read(file, Format::kAuto, [&](absl::StatusOr<json> record, int64_t n) {
//     ...;            // n: the record's 0-based position in the file
//     return true;    // false stops the read
//   });

#include <atomic>
#include <cstdint>
#include <istream>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crm::listings {

enum class FeedFormat { kAuto, kWebApi, kNdjson };

// "auto", "webapi", "ndjson".
absl::StatusOr<FeedFormat> ParseFeedFormat(const std::string& name);

class FeedReader {
 public:
  using RecordFn = absl::FunctionRef<bool(absl::StatusOr<nlohmann::json> record, int64_t index)>;

  // `in` must be seekable for kAuto: detection looks at the first non-blank
  // line only, 1 MiB of it at most, then seeks back. A '[' is a bare array;
  // a '{' is a payload when its line has a top-level "value" array or
  // "@odata.context" (count, nextLink, deltaLink), runs past 1 MiB, or ends
  // before the object does; else it is NDJSON. Only the elements of the payload's top-level
  // "value" array (or of a bare top-level array) are records; one that is
  // not an object is a failed record. An NDJSON line that is not exactly one
  // object is one failed record; a malformed Web API payload ends the read
  // with INVALID_ARGUMENT naming the byte. `bytes_read`, when given, follows
  // the read (for a progress bar on another thread).
  static absl::Status Read(std::istream& in, FeedFormat format, RecordFn record,
                           std::atomic<int64_t>* bytes_read = nullptr);
};

}  // namespace crm::listings
