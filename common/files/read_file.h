#pragma once

// Reading a small file whole (secrets, keys, certificates, logs in tests),
// with an error that names the path and the reason, never the content.

#include <string>

#include "absl/status/statusor.h"

namespace crm {

// The file's bytes, or FAILED_PRECONDITION "cannot read <path>: <reason>".
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace crm
