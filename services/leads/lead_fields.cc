#include "services/leads/lead_fields.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"
#include "phonenumbers/phonenumber.pb.h"
#include "phonenumbers/phonenumberutil.h"

namespace crm::leads {
namespace {

using ::i18n::phonenumbers::PhoneNumber;
using ::i18n::phonenumbers::PhoneNumberUtil;

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

struct Utf8Scan {
  bool valid = true;
  size_t characters = 0;
  bool control = false;  // a control character other than the allowed ones
  bool space = false;
};

// One pass over `s`. `allow_line_controls` lets \n, \r and \t through.
Utf8Scan Scan(absl::string_view s, bool allow_line_controls = false) {
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

absl::Status NotUtf8(absl::string_view field) {
  return InvalidArgumentError(field, "must be valid UTF-8");
}

absl::Status HasControl(absl::string_view field) {
  return InvalidArgumentError(field, "must not contain control characters");
}

absl::Status TooLong(absl::string_view field, size_t max, absl::string_view unit) {
  return InvalidArgumentError(field, absl::StrCat("must be at most ", max, " ", unit));
}

absl::Status Required(absl::string_view field) {
  return InvalidArgumentError(field, "is required");
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

std::optional<size_t> Utf8Length(absl::string_view s) {
  const Utf8Scan scan = Scan(s);
  if (!scan.valid) {
    return std::nullopt;
  }
  return scan.characters;
}

std::string EmailKey(absl::string_view email) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(email));
}

absl::StatusOr<PhoneNormalizer> PhoneNormalizer::Create(absl::string_view default_region) {
  std::string region = absl::AsciiStrToUpper(default_region);
  // 0 for a region without metadata, including "ZZ" (unknown) and "001"
  // (non-geographic numbers, which always carry their country code).
  if (PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown phone region \"", absl::CHexEscape(default_region),
                     "\": expected an ISO 3166-1 alpha-2 code such as \"US\""));
  }
  return PhoneNormalizer(std::move(region));
}

std::string PhoneNormalizer::E164(absl::string_view phone) const {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(std::string(phone), default_region_, &number) !=
          PhoneNumberUtil::NO_PARSING_ERROR ||
      !util.IsValidNumber(number)) {
    return "";
  }
  number.clear_extension();  // E.164 has none anyway; the key is the line
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

absl::Status CheckName(absl::string_view name, absl::string_view field, bool required) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(name);
  const Utf8Scan scan = Scan(trimmed);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return HasControl(field);
  }
  if (required && trimmed.empty()) {
    return Required(field);
  }
  if (scan.characters > kMaxNameCharacters) {
    return TooLong(field, kMaxNameCharacters, "characters");
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(absl::string_view email, absl::string_view field) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(email);
  if (trimmed.empty()) {
    return absl::OkStatus();
  }
  if (trimmed.size() > kMaxEmailBytes) {
    return TooLong(field, kMaxEmailBytes, "bytes");
  }
  const Utf8Scan scan = Scan(trimmed);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control || scan.space) {
    return InvalidArgumentError(field, "must not contain spaces or control characters");
  }
  const size_t at = trimmed.find('@');
  if (at == absl::string_view::npos || trimmed.find('@', at + 1) != absl::string_view::npos) {
    return InvalidArgumentError(field, "must contain exactly one '@', like name@example.com");
  }
  if (at == 0) {
    return InvalidArgumentError(field, "must have a name before the '@', like name@example.com");
  }
  const absl::string_view domain = trimmed.substr(at + 1);
  if (domain.find('.') == absl::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != absl::string_view::npos) {
    return InvalidArgumentError(field,
                                "must have a domain with a dot after the '@', like example.com");
  }
  return absl::OkStatus();
}

absl::Status CheckPhone(absl::string_view phone, absl::string_view field) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(phone);
  if (trimmed.empty()) {
    return absl::OkStatus();
  }
  const Utf8Scan scan = Scan(trimmed);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return HasControl(field);
  }
  if (scan.characters > kMaxPhoneCharacters) {
    return TooLong(field, kMaxPhoneCharacters, "characters");
  }
  // Any Unicode decimal digit, as libphonenumber reads them (fullwidth,
  // Arabic-Indic, ...).
  std::string digits(trimmed);
  PhoneNumberUtil::GetInstance()->NormalizeDigitsOnly(&digits);
  if (digits.empty()) {
    return InvalidArgumentError(field, "must contain at least one digit");
  }
  return absl::OkStatus();
}

absl::Status CheckSource(absl::string_view source, absl::string_view field) {
  if (source.empty()) {
    return Required(field);
  }
  if (source.size() > kMaxSourceBytes) {
    return TooLong(field, kMaxSourceBytes, "characters");
  }
  bool ok = absl::ascii_islower(source.front());
  for (const char c : source) {
    ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_');
  }
  if (!ok) {
    return InvalidArgumentError(field,
                                "must be a lower_snake_case token: a-z, 0-9 and '_', starting with "
                                "a letter, like web_form");
  }
  return absl::OkStatus();
}

absl::Status CheckExternalId(absl::string_view id, absl::string_view field) {
  if (id.size() > kMaxExternalIdBytes) {
    return TooLong(field, kMaxExternalIdBytes, "bytes");
  }
  if (!IsPrintableAscii(id, /*allow_space=*/false)) {
    return InvalidArgumentError(field, "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view text, absl::string_view field, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return TooLong(field, max_bytes, "bytes");
  }
  const Utf8Scan scan = Scan(text, /*allow_line_controls=*/true);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return InvalidArgumentError(
        field, "must not contain control characters other than newline, carriage return and tab");
  }
  return absl::OkStatus();
}

absl::Status CheckQuery(absl::string_view query, absl::string_view field) {
  const Utf8Scan scan = Scan(query);
  if (!scan.valid) {
    return NotUtf8(field);
  }
  if (scan.control) {
    return HasControl(field);
  }
  if (scan.characters > kMaxQueryCharacters) {
    return TooLong(field, kMaxQueryCharacters, "characters");
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

}  // namespace crm::leads
