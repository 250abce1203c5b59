#pragma once

// Input rules every service applies to text fields of untrusted requests and
// feed records, so a name, a free-text query or an idempotency key is checked
// the same way everywhere. Each Check* returns OK or
// crm::InvalidArgumentError(field, reason): INVALID_ARGUMENT whose message
// names `field` exactly as given ("lead.name", "properties[3].mls_id") and
// carries a google.rpc.BadRequest field violation, with a reason a person can
// act on ("must be at most 100 characters").
//
// Lengths called "characters" count UTF-8 code points, not bytes. "Control
// characters" are the Unicode Cc category: U+0000..U+001F, U+007F..U+009F.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::fields {

inline constexpr size_t kMaxQueryCharacters = 200;
inline constexpr size_t kMaxRequestIdBytes = 128;

// "prefix.name", or "name" without a prefix: the field path an error names
// ("property.address.city", "properties[3].mls_id").
std::string FieldPath(absl::string_view prefix, absl::string_view name);

// One pass over a string's UTF-8.
struct Utf8Scan {
  bool valid = true;      // well-formed (no stray or truncated sequences,
                          // overlong forms, surrogates, > U+10FFFF)
  size_t characters = 0;  // code points, while valid
  bool control = false;   // a control character other than the allowed ones
  bool space = false;     // ASCII space or a Unicode space separator (U+00A0...)
};
// `allow_line_controls` lets \n, \r and \t through.
Utf8Scan ScanUtf8(absl::string_view s, bool allow_line_controls = false);

// Characters (UTF-8 code points) in `s`, or nullopt when `s` is not valid
// UTF-8. Utf8Length("José") == 4.
std::optional<size_t> Utf8Length(absl::string_view s);

// A one-line value such as a name or a city, checked after trimming ASCII
// whitespace (what the service should store): 1..max_characters when
// `required` ("" and blank are fine when not), valid UTF-8, no control
// characters.
absl::Status CheckLine(absl::string_view value, absl::string_view field, bool required,
                       size_t max_characters);

// Valid UTF-8, at most `max_bytes` bytes; control characters other than
// \n, \r and \t rejected. For notes, remarks, messages.
absl::Status CheckText(absl::string_view text, absl::string_view field, size_t max_bytes);

// An identifier from another system (an MLS id, an external id): at most
// `max_bytes` of printable ASCII without spaces (U+0021..U+007E); "" only
// when not `required`.
absl::Status CheckToken(absl::string_view value, absl::string_view field, bool required,
                        size_t max_bytes);

// Free-text search, checked as given (not trimmed): at most
// `max_characters`, valid UTF-8, no control characters. "" is fine.
absl::Status CheckQuery(absl::string_view query, absl::string_view field,
                        size_t max_characters = kMaxQueryCharacters);

// A request_id (idempotency key): optional (""), at most 128 bytes of
// printable ASCII (U+0020..U+007E, space included).
absl::Status CheckRequestId(absl::string_view request_id, absl::string_view field);

// The reasons above, for a service's own checks.
absl::Status NotUtf8(absl::string_view field);
absl::Status HasControl(absl::string_view field);
absl::Status TooLong(absl::string_view field, size_t max, absl::string_view unit);
absl::Status Required(absl::string_view field);

// The first of several checks that failed (OK when none did): a request's
// field checks in one expression, reported in field order.
absl::Status FirstError(std::initializer_list<absl::Status> statuses);

}  // namespace crm::fields
