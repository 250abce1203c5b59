#pragma once

// A process's resident memory, as the kernel reports it in
// /proc/<pid>/status: VmRSS (now) and VmHWM (the peak so far).

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::notify_bench {

struct MemoryStatus {
  int64_t rss_kib = 0;  // VmRSS
  int64_t hwm_kib = 0;  // VmHWM
};

// Reads /proc/<pid>/status: NOT_FOUND when the process is gone,
// FAILED_PRECONDITION when the fields are missing (a kernel thread).
absl::StatusOr<MemoryStatus> ReadMemoryStatus(int pid);

// The two fields from the text of such a file.
absl::StatusOr<MemoryStatus> ParseMemoryStatus(absl::string_view status_text);

}  // namespace crm::notify_bench
