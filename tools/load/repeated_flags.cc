#include "tools/load/repeated_flags.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace crm::load {

std::map<std::string, std::vector<std::string>> TakeRepeatedFlags(
    int& argc, char** argv, const std::vector<std::string>& names) {
  std::map<std::string, std::vector<std::string>> values;
  int out = 1;
  int i = 1;
  for (; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      break;
    }
    bool taken = false;
    if (absl::ConsumePrefix(&arg, "-")) {
      absl::ConsumePrefix(&arg, "-");
      for (const std::string& name : names) {
        absl::string_view rest = arg;
        if (!absl::ConsumePrefix(&rest, name)) {
          continue;
        }
        if (absl::ConsumePrefix(&rest, "=")) {
          values[name].emplace_back(rest);
          taken = true;
        } else if (rest.empty() && i + 1 < argc) {
          values[name].emplace_back(argv[++i]);
          taken = true;
        }
        if (taken) {
          break;
        }
      }
    }
    if (!taken) {
      argv[out++] = argv[i];
    }
  }
  for (; i < argc; ++i) {
    argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
  return values;
}

}  // namespace crm::load
