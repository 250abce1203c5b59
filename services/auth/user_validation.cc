#include "services/auth/user_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace crm::auth {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

int CodePoints(absl::string_view s) {
  int count = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) {  // continuation bytes do not start a character
      ++count;
    }
  }
  return count;
}

absl::StatusOr<std::string> ValidateName(absl::string_view name, absl::string_view field) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(name);
  const int length = CodePoints(trimmed);
  if (length < 1 || length > kMaxNameLength) {
    return InvalidArgumentError(field,
                                absl::StrCat("must be 1 to ", kMaxNameLength, " characters"));
  }
  for (unsigned char c : trimmed) {
    if (IsControl(c)) {
      return InvalidArgumentError(field, "must not contain control characters");
    }
  }
  return std::string(trimmed);
}

absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field) {
  const std::string normalised = absl::AsciiStrToLower(absl::StripAsciiWhitespace(email));
  const auto invalid = [&] { return InvalidArgumentError(field, "must be a valid email address"); };
  if (normalised.empty() || normalised.size() > kMaxEmailLength) {
    return InvalidArgumentError(field, absl::StrCat("must be a valid email address of at most ",
                                                    kMaxEmailLength, " characters"));
  }
  const size_t at = normalised.find('@');
  if (at == std::string::npos || at == 0 || at > 64 ||
      normalised.find('@', at + 1) != std::string::npos) {
    return invalid();
  }
  const absl::string_view domain = absl::string_view(normalised).substr(at + 1);
  const size_t dot = domain.rfind('.');
  if (domain.empty() || dot == absl::string_view::npos || dot == 0 || dot + 1 == domain.size() ||
      domain.front() == '-' || domain.find("..") != absl::string_view::npos) {
    return invalid();
  }
  for (unsigned char c : normalised) {
    if (IsControl(c) || c == ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return invalid();
    }
  }
  return normalised;
}

}  // namespace crm::auth
