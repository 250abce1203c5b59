#pragma once

// The start of every tool's main(): command-line arguments checked before
// absl::ParseCommandLine, which exits 1 on an unknown flag or a value it
// cannot parse, so that a tool can answer every usage error with exit 2 (the
// listing tools' 1 means some records failed), and --help listing the tool's
// own flags rather than gRPC's or Abseil's.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::tools {

// INVALID_ARGUMENT naming the flag or argument that is wrong; otherwise the
// positional arguments ("-" counts as one), which only `allow_positional`
// allows. Abseil's own flags (--help*, --version, --flagfile ...) pass.
// Parsing a value sets its flag, as ParseCommandLine will again.
absl::StatusOr<std::vector<char*>> CheckFlagArguments(int argc, char** argv, bool allow_positional);

// A tool's start: its usage text, --help listing the flags defined in the
// tool's folder (`help_folder`, say "tools/load/"), CheckFlagArguments, then
// absl::ParseCommandLine, whose answer it returns (argv[0], then the
// positional arguments).
absl::StatusOr<std::vector<char*>> ParseToolFlags(int argc, char** argv,
                                                  absl::string_view usage_message,
                                                  absl::string_view help_folder,
                                                  bool allow_positional);

}  // namespace crm::tools
