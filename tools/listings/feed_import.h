#pragma once

// Streams a RESO feed file to PropertyService.ImportProperties: records are
// read and mapped on one thread and sent in batches on another, so parsing
// overlaps the service's work; at most two batches wait between them, so
// memory stays bounded whatever the file's size. Records that cannot be
// mapped fail here, with their position in the file; the service's own
// failures come back by stream position and are turned into file
// positions too.

#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "tools/listings/feed_reader.h"
#include "tools/listings/import_progress.h"

namespace crm::listings {

struct FeedImportOptions {
  FeedFormat format = FeedFormat::kAuto;
  int batch_size = 1000;                    // records per stream message (1..1000)
  std::string request_id;                   // optional idempotency key of the import
  std::string access_token;                 // sent as `authorization: Bearer ...`
  absl::Duration timeout = absl::Hours(1);  // the whole stream's deadline
  // ListAgentEmail (lower-cased) → user id; records whose email is not
  // here keep agent_id 0 (the stored agent).
  absl::flat_hash_map<std::string, int64_t> agents_by_email;
};

struct FeedFailure {
  int64_t record = 0;  // 0-based position in the file
  std::string listing_id;
  std::string field;
  std::string message;
};

struct FeedImportResult {
  int64_t records = 0;  // read from the file, mapped or not
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t failed = 0;  // here and in the service
  int64_t agent_emails_unmatched = 0;
  std::vector<FeedFailure> failures;  // the first kMaxFailuresKept, by position
  bool failures_truncated = false;
  absl::Duration elapsed;
};

inline constexpr int kMaxFailuresKept = 100;

// The import's result, or its error when the stream itself failed (the
// file unreadable or malformed, the service refusing or unreachable):
// messages the service acknowledged before stay applied.
absl::StatusOr<FeedImportResult> ImportFeed(std::istream& in,
                                            const std::shared_ptr<grpc::Channel>& channel,
                                            const FeedImportOptions& options,
                                            ImportProgress* progress);

}  // namespace crm::listings
