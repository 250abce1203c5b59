#include "tools/notify_bench/memory_status.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::notify_bench {
namespace {

// "VmRSS:	   12345 kB" → 12345.
bool ParseKib(absl::string_view line, absl::string_view field, int64_t* kib) {
  if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) {
    return false;
  }
  line = absl::StripAsciiWhitespace(line);
  return absl::ConsumeSuffix(&line, "kB") &&
         absl::SimpleAtoi(absl::StripAsciiWhitespace(line), kib);
}

}  // namespace

absl::StatusOr<MemoryStatus> ParseMemoryStatus(absl::string_view status_text) {
  MemoryStatus m;
  bool rss = false;
  bool hwm = false;
  for (absl::string_view line : absl::StrSplit(status_text, '\n')) {
    rss = rss || ParseKib(line, "VmRSS", &m.rss_kib);
    hwm = hwm || ParseKib(line, "VmHWM", &m.hwm_kib);
  }
  if (!rss || !hwm) {
    return absl::FailedPreconditionError("no VmRSS and VmHWM lines");
  }
  return m;
}

absl::StatusOr<MemoryStatus> ReadMemoryStatus(int pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, " (is pid ", pid, " running?)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<MemoryStatus> m = ParseMemoryStatus(text.str());
  if (!m.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", m.status().message()));
  }
  return m;
}

}  // namespace crm::notify_bench
