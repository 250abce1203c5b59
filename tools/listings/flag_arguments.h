#pragma once

// Command-line arguments checked before absl::ParseCommandLine, which exits 1
// on an unknown flag or a value it cannot parse: the listing tools promise
// exit 2 for every usage error (1 means some records failed).

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::listings {

// INVALID_ARGUMENT naming the flag or argument that is wrong; otherwise the
// positional arguments ("-" counts as one), which only `allow_positional`
// allows. Abseil's own flags (--help*, --version, --flagfile ...) pass.
// Parsing a value sets its flag, as ParseCommandLine will again.
absl::StatusOr<std::vector<char*>> CheckFlagArguments(int argc, char** argv, bool allow_positional);

// A listing tool's start: its usage text, --help listing the tools' own
// flags (tools/listings/), CheckFlagArguments, then absl::ParseCommandLine,
// whose answer it returns (argv[0], then the positional arguments).
absl::StatusOr<std::vector<char*>> ParseToolFlags(int argc, char** argv,
                                                  absl::string_view usage_message,
                                                  bool allow_positional);

}  // namespace crm::listings
