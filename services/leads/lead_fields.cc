#include "services/leads/lead_fields.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fields/text_checks.h"
#include "common/status/grpc_status.h"
#include "phonenumbers/phonenumber.pb.h"
#include "phonenumbers/phonenumberutil.h"

namespace crm::leads {
namespace {

using ::i18n::phonenumbers::PhoneNumber;
using ::i18n::phonenumbers::PhoneNumberUtil;

using fields::HasControl;
using fields::NotUtf8;
using fields::Required;
using fields::TooLong;
using fields::Utf8Scan;

}  // namespace

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
  return fields::CheckLine(name, field, required, kMaxNameCharacters);
}

absl::Status CheckEmail(absl::string_view email, absl::string_view field) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(email);
  if (trimmed.empty()) {
    return absl::OkStatus();
  }
  if (trimmed.size() > kMaxEmailBytes) {
    return TooLong(field, kMaxEmailBytes, "bytes");
  }
  const Utf8Scan scan = fields::ScanUtf8(trimmed);
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
  const Utf8Scan scan = fields::ScanUtf8(trimmed);
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
  return fields::CheckToken(id, field, /*required=*/false, kMaxExternalIdBytes);
}

}  // namespace crm::leads
