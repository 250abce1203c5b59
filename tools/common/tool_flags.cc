#include "tools/common/tool_flags.h"

#include <string>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crm::tools {

absl::StatusOr<std::vector<char*>> CheckFlagArguments(int argc, char** argv,
                                                      bool allow_positional) {
  std::vector<char*> positional;
  for (int k = 1; k < argc; ++k) {
    absl::string_view arg = argv[k];
    if (arg == "--") {
      for (++k; k < argc; ++k) {
        positional.push_back(argv[k]);
      }
      break;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      positional.push_back(argv[k]);
      continue;
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
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (k + 1 < argc) {
      value = argv[++k];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", error));
    }
  }
  if (!allow_positional && !positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("takes no arguments, only flags (got \"", positional.front(), "\")"));
  }
  return positional;
}

absl::StatusOr<std::vector<char*>> ParseToolFlags(int argc, char** argv,
                                                  absl::string_view usage_message,
                                                  absl::string_view help_folder,
                                                  bool allow_positional) {
  absl::SetProgramUsageMessage(usage_message);
  absl::FlagsUsageConfig usage;
  // --help lists the tool's own flags, not gRPC's or Abseil's.
  usage.contains_helpshort_flags = [folder = std::string(help_folder)](absl::string_view file) {
    return absl::StrContains(file, folder);
  };
  usage.contains_help_flags = usage.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(usage);
  if (absl::StatusOr<std::vector<char*>> checked = CheckFlagArguments(argc, argv, allow_positional);
      !checked.ok()) {
    return checked.status();
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace crm::tools
