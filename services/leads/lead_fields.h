#pragma once

// Input rules for leads' fields, and the contact keys leads are de-duplicated
// on: the email key (trimmed, lower case) and the phone key (E.164).
//
// Each Check* function returns OK or crm::InvalidArgumentError(field, reason):
// INVALID_ARGUMENT whose message names `field` exactly as given ("lead.name",
// "name") and which carries a google.rpc.BadRequest field violation, with a
// reason a person can act on ("must be at most 100 characters").
//
// Lengths called "characters" count UTF-8 code points, not bytes. "Control
// characters" are the Unicode Cc category: U+0000..U+001F, U+007F..U+009F.
//
// Name, email and phone ignore surrounding ASCII whitespace (" \t\n\v\f\r"):
// the checks look at absl::StripAsciiWhitespace(value), which is also what the
// service should store.

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fields/text_checks.h"

namespace crm::leads {

// The checks every service shares (common/fields), under the names leads'
// code and tests use.
using fields::CheckQuery;
using fields::CheckRequestId;
using fields::CheckText;
using fields::kMaxQueryCharacters;
using fields::kMaxRequestIdBytes;
using fields::Utf8Length;

inline constexpr size_t kMaxNameCharacters = 100;
inline constexpr size_t kMaxEmailBytes = 254;
inline constexpr size_t kMaxPhoneCharacters = 40;
inline constexpr size_t kMaxSourceBytes = 64;
inline constexpr size_t kMaxExternalIdBytes = 128;
inline constexpr size_t kMaxContactInfoBytes = 2000, kMaxNotesBytes = 20000,
                        kMaxMessageBytes = 5000;

// Email as the de-duplication key: trimmed, lower-cased (ASCII letters only;
// other bytes are kept as they are). "" for "" (and for blank input).
std::string EmailKey(absl::string_view email);

// Parses phone numbers with libphonenumber. Thread-safe (PhoneNumberUtil is a
// singleton, and a PhoneNormalizer is immutable). Cheap to copy.
class PhoneNormalizer {
 public:
  // `default_region`: ISO 3166-1 alpha-2 ("US", case-insensitive) used for
  // numbers written without a country code. INVALID_ARGUMENT for a region
  // libphonenumber has no metadata for ("ZZ", "USA", "001", "").
  static absl::StatusOr<PhoneNormalizer> Create(absl::string_view default_region);

  // The E.164 form ("+14155550123"), or "" when `phone` does not parse as a
  // valid number (garbage, too short, wrong length for its country, a range
  // not assigned in libphonenumber's metadata). Extensions ("x123",
  // "ext. 45") are dropped from the key: the same line with and without an
  // extension is the same person.
  //
  // The international call prefix is the default region's: with region US,
  // "011 44 20 7946 0958" is +442079460958 but "00 44 20 7946 0958" is not a
  // valid number (it reads as a US number starting 0044...) and gives "".
  std::string E164(absl::string_view phone) const;

  // The default region, upper case ("US").
  const std::string& default_region() const { return default_region_; }

 private:
  explicit PhoneNormalizer(std::string default_region)
      : default_region_(std::move(default_region)) {}

  std::string default_region_;
};

// 1..100 characters after trimming when `required` ("" and blank are fine
// when not), valid UTF-8, no control characters.
absl::Status CheckName(absl::string_view name, absl::string_view field, bool required);

// Optional ("" and blank are fine). After trimming: at most 254 bytes, valid
// UTF-8, exactly one '@', a non-empty part before it, a domain after it with
// a dot and no empty labels ("example.com", not "example." or "a..com"), no
// spaces or control characters.
absl::Status CheckEmail(absl::string_view email, absl::string_view field);

// Optional ("" and blank are fine). After trimming: at most 40 characters,
// valid UTF-8, no control characters, at least one digit (any Unicode decimal
// digit, as libphonenumber reads "４１５"). A number libphonenumber cannot
// parse is still accepted: it is stored as given, just not used for matching.
absl::Status CheckPhone(absl::string_view phone, absl::string_view field);

// Required: a lower_snake token, ^[a-z][a-z0-9_]{0,63}$ ("web_form").
absl::Status CheckSource(absl::string_view source, absl::string_view field);

// Optional (""): at most 128 bytes of printable ASCII without spaces
// (U+0021..U+007E).
absl::Status CheckExternalId(absl::string_view id, absl::string_view field);

}  // namespace crm::leads
