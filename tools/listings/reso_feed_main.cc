// crm-reso-feed: writes a realistic RESO feed of any size, for tests,
// benchmarks and demo data; the same flags always give the same bytes.
//
//   crm-reso-feed --count=100000 --out=listings.json
//   crm-reso-feed --count=50 --format=ndjson --agent_emails=a@x.test,b@x.test
//
// Exits 2 on bad flags, 1 when the output cannot be written.

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/common/tool_flags.h"
#include "tools/listings/reso_feed_generator.h"

ABSL_FLAG(int64_t, count, 100, "records to write");
ABSL_FLAG(uint64_t, seed, 1, "the feed's seed: record i depends only on it and i");
ABSL_FLAG(int64_t, first, 1, "the number in the first ListingId");
ABSL_FLAG(std::string, format, "webapi",
          "webapi (a RESO Web API payload {\"@odata.context\": ..., \"value\": [...]}) or "
          "ndjson (one record per line)");
ABSL_FLAG(std::string, out, "-", "the file to write; \"-\" or empty: stdout");
ABSL_FLAG(std::vector<std::string>, agent_emails, {},
          "comma-separated ListAgentEmail values, given to the records in turn; empty: none");
ABSL_FLAG(std::string, originating_system, "CRM Demo MLS",
          "OriginatingSystemName; empty leaves it and ListingKey out");
ABSL_FLAG(std::string, listing_id_prefix, "DM", "what every ListingId starts with");
ABSL_FLAG(double, bad_fraction, 0,
          "share of records (0..1) made invalid: a negative ListPrice, an unknown "
          "StandardStatus or no ListingId");
ABSL_FLAG(int, revision, 0,
          "the same listings N days later: --changed_fraction of them with a price cut that day "
          "(an import of it updates them)");
ABSL_FLAG(double, changed_fraction, 0.1, "with --revision: share of listings (0..1) changed");

namespace {

constexpr char kName[] = "crm-reso-feed";

[[noreturn]] void BadUsage(absl::string_view message) {
  std::cerr << kName << ": " << message << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (absl::StatusOr<std::vector<char*>> args = crm::tools::ParseToolFlags(
          argc, argv,
          "Writes a realistic RESO Web API (or NDJSON) Property feed; the same flags always give "
          "the same bytes.\n  crm-reso-feed --count=100000 --out=listings.json",
          "tools/listings/", /*allow_positional=*/false);
      !args.ok()) {
    BadUsage(args.status().message());
  }

  crm::listings::FeedOptions options;
  options.count = absl::GetFlag(FLAGS_count);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.first = absl::GetFlag(FLAGS_first);
  options.originating_system = absl::GetFlag(FLAGS_originating_system);
  options.listing_id_prefix = absl::GetFlag(FLAGS_listing_id_prefix);
  for (const std::string& email : absl::GetFlag(FLAGS_agent_emails)) {
    if (!email.empty()) {  // "a@x.test," has an empty last element
      options.agent_emails.push_back(email);
    }
  }
  options.bad_fraction = absl::GetFlag(FLAGS_bad_fraction);
  options.revision = absl::GetFlag(FLAGS_revision);
  options.changed_fraction = absl::GetFlag(FLAGS_changed_fraction);
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "ndjson") {
    options.ndjson = true;
  } else if (format != "webapi") {
    BadUsage(absl::StrCat("--format: \"", format, "\" is not webapi or ndjson"));
  }
  if (absl::Status status = crm::listings::CheckFeedOptions(options); !status.ok()) {
    BadUsage(absl::StrCat("--", status.message()));
  }

  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty() || path == "-") {
    std::ios::sync_with_stdio(false);
    crm::listings::WriteFeed(options, std::cout);
    if (!std::cout) {
      std::cerr << kName << ": cannot write to stdout\n";
      return 1;
    }
    return 0;
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    std::cerr << kName << ": cannot open " << path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  crm::listings::WriteFeed(options, file);
  file.close();
  if (!file) {
    std::cerr << kName << ": cannot write " << path << "\n";
    return 1;
  }
  return 0;
}
