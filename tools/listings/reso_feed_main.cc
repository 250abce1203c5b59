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
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

namespace {

constexpr char kName[] = "crm-reso-feed";

[[noreturn]] void BadUsage(absl::string_view message) {
  std::cerr << kName << ": " << message << "\n";
  std::exit(2);
}

// absl::ParseCommandLine exits 1 on an unknown flag or a value it cannot
// parse; this tool promises 2 for any bad usage, so those are caught first.
void CheckArguments(int argc, char** argv) {
  for (int k = 1; k < argc; ++k) {
    absl::string_view arg = argv[k];
    if (arg == "--") {
      break;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      BadUsage(absl::StrCat("takes no arguments, only flags (got \"", arg, "\")"));
    }
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    // absl's own flags; it handles them.
    if (absl::StartsWith(name, "help") || name == "version") {
      continue;
    }
    if (name == "flagfile" || name == "fromenv" || name == "tryfromenv" || name == "undefok") {
      k += equals == absl::string_view::npos ? 1 : 0;
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && equals == absl::string_view::npos) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        continue;  // --nofoo for a bool
      }
    }
    if (flag == nullptr) {
      BadUsage(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (k + 1 < argc) {
      value = argv[++k];
    } else {
      BadUsage(absl::StrCat("--", name, " needs a value"));
    }
    // Parsing sets the flag; ParseCommandLine sets it again to the same.
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      BadUsage(absl::StrCat("--", name, ": ", error));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a realistic RESO Web API (or NDJSON) Property feed; the same flags always give "
      "the same bytes.\n  crm-reso-feed --count=100000 --out=listings.json");
  absl::FlagsUsageConfig usage;
  // --help lists this tool's flags, not only those of a file named like it.
  usage.contains_helpshort_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/listings/");
  };
  usage.contains_help_flags = usage.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(usage);
  CheckArguments(argc, argv);
  absl::ParseCommandLine(argc, argv);

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
