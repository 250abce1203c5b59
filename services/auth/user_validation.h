#pragma once

// Input rules for users: name 1..100 characters, a syntactically valid email
// of at most 100 characters stored normalised (trimmed, lower case).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::auth {

inline constexpr int kMaxNameLength = 100;
inline constexpr int kMaxEmailLength = 100;

// Characters (UTF-8 code points) in `s`: lengths are limited in characters,
// not bytes, so non-ASCII names and passwords are not penalised.
int CodePoints(absl::string_view s);

// The trimmed name, or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ValidateName(absl::string_view name, absl::string_view field);

// The normalised email, or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field);

}  // namespace crm::auth
