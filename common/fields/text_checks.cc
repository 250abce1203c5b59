#include "common/fields/text_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace crm::fields {
namespace {

constexpr char32_t kMalformed = 0xFFFFFFFF;

// Decodes the code point starting at s[*i] and advances *i past it, or
// returns kMalformed (bad lead byte, truncated sequence, overlong encoding,
// surrogate, above U+10FFFF).
char32_t NextCodePoint(absl::string_view s, size_t* i) {
  const auto c = static_cast<unsigned char>(s[*i]);
  size_t length;
  char32_t code_point;
  char32_t minimum;
  if (c < 0x80) {
    ++*i;
    return c;
  } else if (c >= 0xC2 && c <= 0xDF) {
    length = 2, code_point = c & 0x1F, minimum = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3, code_point = c & 0x0F, minimum = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4, code_point = c & 0x07, minimum = 0x10000;
  } else {
    return kMalformed;
  }
  if (s.size() - *i < length) {
    return kMalformed;
  }
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      return kMalformed;
    }
    code_point = (code_point << 6) | (b & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return kMalformed;
  }
  *i += length;
  return code_point;
}

// Unicode category Cc.
bool IsControl(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// ASCII space and the Unicode space separators (Zs, Zl, Zp) that come in with
// copy and paste, such as U+00A0 NO-BREAK SPACE.
bool IsSpace(char32_t c) {
  return c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Printable ASCII: U+0020..U+007E, or U+0021..U+007E without the space.
bool IsPrintableAscii(absl::string_view s, bool allow_space) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < (allow_space ? 0x20 : 0x21) || c > 0x7E) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string FieldPath(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

Utf8Scan ScanUtf8(absl::string_view s, bool allow_line_controls) {
  Utf8Scan scan;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = NextCodePoint(s, &i);
    if (c == kMalformed) {
      scan.valid = false;
      return scan;
    }
    ++scan.characters;
    if (IsControl(c) && !(allow_line_controls && (c == '\n' || c == '\r' || c == '\t'))) {
      scan.control = true;
    }
    if (IsSpace(c)) {
      scan.space = true;
    }
  }
  return scan;
}

std::optional<size_t> Utf8Length(absl::string_view s) {
  const Utf8Scan scan = ScanUtf8(s);
  if (!scan.valid) {
    return std::nullopt;
  }
  return scan.characters;
}

absl::Status NotUtf8(absl::string_view field) {
  return InvalidArgumentError(field, "must be valid UTF-8");
}

absl::Status HasControl(absl::string_view field) {
  return InvalidArgumentError(field, "must not contain control characters");
}

absl::Status TooLong(absl::string_view field, size_t max, absl::string_view unit) {
  return InvalidArgumentError(field, absl::StrCat("must be at most ", max, " ", unit));
}

absl::Status FirstError(std::initializer_list<absl::Status> statuses) {
  for (const absl::Status& s : statuses) {
    if (!s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Required(absl::string_view field) {
  return InvalidArgumentError(field, "is required");
}

absl::Status CheckLine(absl::string_view value, absl::string_view field, bool required,
                       size_t max_characters) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  const Utf8Scan scan = ScanUtf8(trimmed);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return HasControl(field);
  }
  if (required && trimmed.empty()) {
    return Required(field);
  }
  if (scan.characters > max_characters) {
    return TooLong(field, max_characters, "characters");
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view text, absl::string_view field, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return TooLong(field, max_bytes, "bytes");
  }
  const Utf8Scan scan = ScanUtf8(text, /*allow_line_controls=*/true);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return InvalidArgumentError(
        field, "must not contain control characters other than newline, carriage return and tab");
  }
  return absl::OkStatus();
}

absl::Status CheckToken(absl::string_view value, absl::string_view field, bool required,
                        size_t max_bytes) {
  if (required && value.empty()) {
    return Required(field);
  }
  if (value.size() > max_bytes) {
    return TooLong(field, max_bytes, "bytes");
  }
  if (!IsPrintableAscii(value, /*allow_space=*/false)) {
    return InvalidArgumentError(field, "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status CheckQuery(absl::string_view query, absl::string_view field, size_t max_characters) {
  const Utf8Scan scan = ScanUtf8(query);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return HasControl(field);
  }
  if (scan.characters > max_characters) {
    return TooLong(field, max_characters, "characters");
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view request_id, absl::string_view field) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return TooLong(field, kMaxRequestIdBytes, "bytes");
  }
  if (!IsPrintableAscii(request_id, /*allow_space=*/true)) {
    return InvalidArgumentError(field, "must be printable ASCII");
  }
  return absl::OkStatus();
}

}  // namespace crm::fields
