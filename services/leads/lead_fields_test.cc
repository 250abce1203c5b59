#include "services/leads/lead_fields.h"

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace crm::leads {
namespace {

constexpr absl::string_view kBadRequestUrl = "type.googleapis.com/google.rpc.BadRequest";

// INVALID_ARGUMENT naming `field` in the message and in exactly one BadRequest
// field violation whose description contains `reason`.
::testing::AssertionResult Rejected(const absl::Status& status, absl::string_view field,
                                    absl::string_view reason) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "expected INVALID_ARGUMENT, got " << status;
  }
  if (!absl::StartsWith(status.message(), absl::StrCat(field, ": "))) {
    return ::testing::AssertionFailure() << "message does not name " << field << ": " << status;
  }
  const auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload.has_value()) {
    return ::testing::AssertionFailure() << "no BadRequest detail: " << status;
  }
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload)) ||
      bad_request.field_violations_size() != 1) {
    return ::testing::AssertionFailure() << "BadRequest is not one field violation: " << status;
  }
  const auto& violation = bad_request.field_violations(0);
  if (violation.field() != field) {
    return ::testing::AssertionFailure() << "violation names " << violation.field();
  }
  if (!absl::StrContains(violation.description(), reason)) {
    return ::testing::AssertionFailure()
           << "reason \"" << violation.description() << "\" lacks \"" << reason << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST(RejectedTest, TellsWrongStatusesApart) {
  EXPECT_TRUE(Rejected(InvalidArgumentError("a", "is required"), "a", "required"));
  EXPECT_FALSE(Rejected(absl::OkStatus(), "a", ""));
  EXPECT_FALSE(Rejected(absl::InvalidArgumentError("a: is required"), "a", ""));  // no detail
  EXPECT_FALSE(Rejected(InvalidArgumentError("a", "is required"), "b", ""));
  EXPECT_FALSE(Rejected(InvalidArgumentError("lead.a", "is required"), "a", ""));
  EXPECT_FALSE(Rejected(InvalidArgumentError("a", "is required"), "a", "too long"));
}

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, s);
  }
  return out;
}

// Malformed UTF-8 of every kind the decoder must refuse.
const std::vector<std::string>& BadUtf8() {
  static const auto* const kCases = new std::vector<std::string>{
      "Jos\xC3",             // truncated two-byte sequence
      "\x80",                // stray continuation byte
      "\xC0\xAF",            // overlong '/'
      "\xE0\x80\xAF",        // overlong '/', three bytes
      "\xED\xA0\x80",        // UTF-16 surrogate U+D800
      "\xF4\x90\x80\x80",    // above U+10FFFF
      "\xFF",                // never valid
      "\xE2\x82",            // truncated three-byte sequence (euro sign)
      "ok \xE2\x28\xA1 no",  // bad continuation byte
  };
  return *kCases;
}

// --- Utf8Length -------------------------------------------------------------

TEST(Utf8LengthTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("Jose"), 4u);
  EXPECT_EQ(Utf8Length("José"), 4u);  // 5 bytes
  EXPECT_EQ(std::string("José").size(), 5u);
  EXPECT_EQ(Utf8Length("李小龙"), 3u);            // 9 bytes
  EXPECT_EQ(Utf8Length("\xF0\x9F\x98\x80"), 1u);  // U+1F600, 4 bytes
  EXPECT_EQ(Utf8Length("\xF4\x8F\xBF\xBF"), 1u);  // U+10FFFF, the last code point
  EXPECT_EQ(Utf8Length(std::string("a\0b", 3)), 3u);
}

TEST(Utf8LengthTest, RefusesMalformedInput) {
  for (const std::string& bad : BadUtf8()) {
    EXPECT_EQ(Utf8Length(bad), std::nullopt) << absl::CHexEscape(bad);
  }
}

// --- EmailKey ---------------------------------------------------------------

TEST(EmailKeyTest, TrimsAndLowerCases) {
  EXPECT_EQ(EmailKey("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(EmailKey("  alice@example.com \t\n"), "alice@example.com");
  EXPECT_EQ(EmailKey(" Alice@Example.COM "), EmailKey("alice@example.com"));
}

TEST(EmailKeyTest, EmptyAndBlankGiveEmpty) {
  EXPECT_EQ(EmailKey(""), "");
  EXPECT_EQ(EmailKey("   "), "");
}

TEST(EmailKeyTest, LowerCasesAsciiOnly) {
  EXPECT_EQ(EmailKey("JOSÉ@Example.com"), "josÉ@example.com");
}

// --- PhoneNormalizer --------------------------------------------------------

PhoneNormalizer Normalizer(absl::string_view region) {
  absl::StatusOr<PhoneNormalizer> normalizer = PhoneNormalizer::Create(region);
  EXPECT_TRUE(normalizer.ok()) << normalizer.status();
  return *std::move(normalizer);
}

TEST(PhoneNormalizerTest, CreateAcceptsKnownRegions) {
  for (absl::string_view region : {"US", "GB", "DE", "FR", "JP", "CA"}) {
    absl::StatusOr<PhoneNormalizer> normalizer = PhoneNormalizer::Create(region);
    ASSERT_TRUE(normalizer.ok()) << region << ": " << normalizer.status();
    EXPECT_EQ(normalizer->default_region(), region);
  }
}

TEST(PhoneNormalizerTest, CreateIgnoresCase) {
  absl::StatusOr<PhoneNormalizer> normalizer = PhoneNormalizer::Create("us");
  ASSERT_TRUE(normalizer.ok()) << normalizer.status();
  EXPECT_EQ(normalizer->default_region(), "US");
  EXPECT_EQ(normalizer->E164("(415) 555-0123"), "+14155550123");
}

TEST(PhoneNormalizerTest, CreateRefusesUnknownRegions) {
  // "ZZ" is libphonenumber's unknown region, "001" its non-geographic entity
  // (whose numbers always carry a country code), "UK" is not ISO 3166 ("GB").
  for (absl::string_view region : {"", "ZZ", "XX", "001", "USA", "U", "UK", " US"}) {
    absl::StatusOr<PhoneNormalizer> normalizer = PhoneNormalizer::Create(region);
    EXPECT_EQ(normalizer.status().code(), absl::StatusCode::kInvalidArgument) << region;
    EXPECT_TRUE(absl::StrContains(normalizer.status().message(), "ISO 3166-1 alpha-2"))
        << normalizer.status();
  }
}

TEST(PhoneNormalizerTest, NationalUsFormats) {
  const PhoneNormalizer us = Normalizer("US");
  for (absl::string_view phone :
       {"(415) 555-0123", "415.555.0123", "415-555-0123", "1 415 555 0123", "4155550123",
        "1-415-555-0123", "(415)555-0123", "  415 555 0123  "}) {
    EXPECT_EQ(us.E164(phone), "+14155550123") << phone;
  }
}

TEST(PhoneNormalizerTest, InternationalFormats) {
  const PhoneNormalizer us = Normalizer("US");
  EXPECT_EQ(us.E164("+44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(us.E164("+44 (0) 20 7946 0958"), "+442079460958");  // the national 0 is dropped
  EXPECT_EQ(us.E164("+1-415-555-0123"), "+14155550123");
  EXPECT_EQ(us.E164("+1 (415) 555-0123"), "+14155550123");
  EXPECT_EQ(us.E164("+49 30 12345678"), "+493012345678");
  EXPECT_EQ(us.E164("tel:+1-415-555-0123"), "+14155550123");
}

TEST(PhoneNormalizerTest, InternationalPrefixIsTheDefaultRegions) {
  // The US international call prefix is 011, not 00: with region US,
  // "00 44 ..." parses as a US number with national number 00442079460958,
  // which is not valid, so there is no key.
  const PhoneNormalizer us = Normalizer("US");
  EXPECT_EQ(us.E164("011 44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(us.E164("00 44 20 7946 0958"), "");
  // Where 00 is the prefix, it works.
  EXPECT_EQ(Normalizer("GB").E164("00 44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(Normalizer("DE").E164("00 44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(Normalizer("GB").E164("001 415 555 0123"), "+14155550123");
}

TEST(PhoneNormalizerTest, ExtensionsAreDroppedFromTheKey) {
  const PhoneNormalizer us = Normalizer("US");
  for (absl::string_view phone :
       {"415-555-0123 x42", "415-555-0123 ext. 42", "415-555-0123 ext 42",
        "(415) 555-0123, ext. 42", "415 555 0123 extension 42", "+1 415 555 0123;ext=42",
        "+1 415 555 0123 #42", "415-555-0123 x"}) {
    EXPECT_EQ(us.E164(phone), "+14155550123") << phone;
  }
  EXPECT_EQ(us.E164("415-555-0123 x42"), us.E164("415-555-0123"));
}

TEST(PhoneNormalizerTest, AnExtensionAloneIsNoNumber) {
  // libphonenumber reads "ext. 42" as the national number 42 (+1 42): parsed,
  // but not a valid number.
  EXPECT_EQ(Normalizer("US").E164("ext. 42"), "");
}

TEST(PhoneNormalizerTest, GarbageHasNoKey) {
  const PhoneNormalizer us = Normalizer("US");
  for (absl::string_view phone : {
           "hello",        // not a number
           "123",          // parses (+1 123) but too short to be valid
           "",             // nothing
           "+999 1234",    // no country uses calling code 999
           "415555012",    // nine digits
           "41555501234",  // eleven digits not starting with 1
           "555-0123",     // seven digits: possible (local dialling) but not valid
           "(415) 555-0123 x123456789012345678901",  // an extension too long to parse
       }) {
    EXPECT_EQ(us.E164(phone), "") << phone;
  }
  EXPECT_EQ(us.E164(std::string("415") + '\0' + "555" + '\0' + "0123"), "");
  for (const std::string& bad : BadUtf8()) {
    EXPECT_EQ(us.E164(bad), "") << absl::CHexEscape(bad);
  }
  EXPECT_EQ(us.E164("\xFF"
                    "415 555 0123"),
            "");
  EXPECT_EQ(us.E164(Repeat("4", 300)), "");
}

TEST(PhoneNormalizerTest, GermanNumbersWithRegionDe) {
  const PhoneNormalizer de = Normalizer("DE");
  EXPECT_EQ(de.E164("030 12345678"), "+493012345678");
  EXPECT_EQ(de.E164("030/12345678"), "+493012345678");
  EXPECT_EQ(de.E164("+49 30 12345678"), "+493012345678");
  EXPECT_EQ(de.E164("0049 30 12345678"), "+493012345678");
  EXPECT_EQ(de.E164("089 123456"), "+4989123456");
  // The same national digits mean nothing valid in the US.
  EXPECT_EQ(Normalizer("US").E164("030 12345678"), "");
}

TEST(PhoneNormalizerTest, SameNumberInThreeFormatsGivesOneKey) {
  const PhoneNormalizer us = Normalizer("US");
  const std::set<std::string> keys = {us.E164("(415) 555-0123"), us.E164("+1 415.555.0123"),
                                      us.E164("415-555-0123 ext. 9")};
  EXPECT_EQ(keys, std::set<std::string>{"+14155550123"});

  const PhoneNormalizer gb = Normalizer("GB");
  const std::set<std::string> gb_keys = {gb.E164("020 7946 0958"), gb.E164("+44 20 7946 0958"),
                                         gb.E164("00442079460958")};
  EXPECT_EQ(gb_keys, std::set<std::string>{"+442079460958"});
}

TEST(PhoneNormalizerTest, DefaultRegionGbParsesNationalGbNumbers) {
  const PhoneNormalizer gb = Normalizer("GB");
  EXPECT_EQ(gb.E164("020 7946 0958"), "+442079460958");
  EXPECT_EQ(gb.E164("(020) 7946 0958"), "+442079460958");
  EXPECT_EQ(gb.E164("07400 123456"), "+447400123456");  // mobile
  EXPECT_EQ(gb.E164("+1 415 555 0123"), "+14155550123");
  // A US national number in GB reads as +44 415..., which is not valid.
  EXPECT_EQ(gb.E164("(415) 555-0123"), "");
  // And a GB national number in the US is not valid either.
  EXPECT_EQ(Normalizer("US").E164("020 7946 0958"), "");
}

TEST(PhoneNormalizerTest, NonAsciiDigitsAndLettersAreRead) {
  const PhoneNormalizer us = Normalizer("US");
  EXPECT_EQ(us.E164("＋１ ４１５ ５５５ ０１２３"), "+14155550123");  // fullwidth
  EXPECT_EQ(us.E164("١٤١٥٥٥٥٠١٢٣"), "+14155550123");                  // Arabic-Indic
  EXPECT_EQ(us.E164("1-800-FLOWERS"), "+18003569377");                // vanity letters
}

TEST(PhoneNormalizerTest, CopiesAndThreadsShareOneNormalizer) {
  const PhoneNormalizer original = Normalizer("US");
  const PhoneNormalizer copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.E164("415.555.0123"), "+14155550123");

  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&original, &failures, t] {
      for (int i = 0; i < 200; ++i) {
        if (original.E164("(415) 555-0123") != "+14155550123" ||
            original.E164("+44 20 7946 0958") != "+442079460958" ||
            !original.E164("hello").empty()) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// --- CheckName --------------------------------------------------------------

TEST(CheckNameTest, Accepts) {
  for (bool required : {true, false}) {
    for (absl::string_view name :
         {"Alice", "José García", "李小龙", "O'Brien-Smith", "  Alice  ", "Alice\n", "A"}) {
      EXPECT_TRUE(CheckName(name, "lead.name", required).ok()) << name;
    }
  }
  EXPECT_TRUE(CheckName(Repeat("é", 100), "lead.name", true).ok());
  EXPECT_TRUE(CheckName(Repeat("a", 100), "lead.name", true).ok());
  EXPECT_TRUE(CheckName(Repeat("José", 25), "lead.name", true).ok());  // 100 characters
  EXPECT_TRUE(CheckName(absl::StrCat("  ", Repeat("a", 100), "  "), "lead.name", true).ok());
}

TEST(CheckNameTest, OptionalMayBeEmptyOrBlank) {
  EXPECT_TRUE(CheckName("", "lead.name", false).ok());
  EXPECT_TRUE(CheckName("   ", "lead.name", false).ok());
}

TEST(CheckNameTest, RequiredMustNotBeEmptyOrBlank) {
  EXPECT_TRUE(Rejected(CheckName("", "lead.name", true), "lead.name", "is required"));
  EXPECT_TRUE(Rejected(CheckName(" \t\n ", "name", true), "name", "is required"));
}

TEST(CheckNameTest, CountsCharactersNotBytes) {
  // 100 'é' are 200 bytes and fine; 101 are too many.
  EXPECT_TRUE(CheckName(Repeat("é", 100), "lead.name", true).ok());
  EXPECT_TRUE(Rejected(CheckName(Repeat("é", 101), "lead.name", true), "lead.name",
                       "must be at most 100 characters"));
  EXPECT_TRUE(Rejected(CheckName(Repeat("a", 101), "lead.name", true), "lead.name",
                       "must be at most 100 characters"));
  EXPECT_TRUE(Rejected(CheckName(Repeat("José", 25) + "é", "lead.name", true), "lead.name",
                       "at most 100 characters"));
  // The limit holds for an optional name too.
  EXPECT_TRUE(Rejected(CheckName(Repeat("a", 101), "lead.name", false), "lead.name",
                       "at most 100 characters"));
}

TEST(CheckNameTest, RefusesControlCharacters) {
  for (const std::string& name : {std::string("Al\tice"), std::string("Al\nice"),
                                  std::string("Al\x7F"
                                              "ice"),
                                  std::string("Al\0ice", 6),
                                  std::string("Al\xC2\x85"
                                              "ice")}) {  // U+0085, a C1 control
    EXPECT_TRUE(Rejected(CheckName(name, "lead.name", true), "lead.name",
                         "must not contain control characters"))
        << absl::CHexEscape(name);
  }
}

TEST(CheckNameTest, RefusesInvalidUtf8) {
  for (const std::string& bad : BadUtf8()) {
    EXPECT_TRUE(Rejected(CheckName(bad, "lead.name", true), "lead.name", "must be valid UTF-8"))
        << absl::CHexEscape(bad);
    EXPECT_TRUE(Rejected(CheckName(bad, "lead.name", false), "lead.name", "UTF-8"));
  }
}

// --- CheckEmail -------------------------------------------------------------

TEST(CheckEmailTest, Accepts) {
  for (absl::string_view email :
       {"", "   ", "alice@example.com", " Alice@Example.COM ", "a.b+tag@sub.example.co.uk", "x@y.z",
        "o'brien@example.ie", "josé@exämple.de", "alice@example.com\n"}) {
    EXPECT_TRUE(CheckEmail(email, "lead.email").ok()) << email;
  }
  // 254 bytes exactly.
  const std::string longest = Repeat("a", 64) + "@" + Repeat("b", 185) + ".com";
  ASSERT_EQ(longest.size(), 254u);
  EXPECT_TRUE(CheckEmail(longest, "lead.email").ok());
}

TEST(CheckEmailTest, RefusesTooLong) {
  const std::string too_long = Repeat("a", 64) + "@" + Repeat("b", 186) + ".com";
  ASSERT_EQ(too_long.size(), 255u);
  EXPECT_TRUE(
      Rejected(CheckEmail(too_long, "lead.email"), "lead.email", "must be at most 254 bytes"));
}

TEST(CheckEmailTest, RefusesWrongShapes) {
  struct Case {
    absl::string_view email;
    absl::string_view reason;
  };
  for (const Case& c : std::vector<Case>{
           {"alice", "exactly one '@'"},
           {"alice.example.com", "exactly one '@'"},
           {"a@b@example.com", "exactly one '@'"},
           {"@example.com", "a name before the '@'"},
           {"alice@", "a domain with a dot"},
           {"alice@localhost", "a domain with a dot"},
           {"alice@.com", "a domain with a dot"},
           {"alice@example.", "a domain with a dot"},
           {"alice@example..com", "a domain with a dot"},
           {"al ice@example.com", "spaces or control characters"},
           {"alice@exa\tmple.com", "spaces or control characters"},
           {"alice\xC2\xA0@example.com", "spaces or control characters"},  // no-break space
           {"alice@example.com\x7F", "spaces or control characters"},
       }) {
    EXPECT_TRUE(Rejected(CheckEmail(c.email, "lead.email"), "lead.email", c.reason)) << c.email;
  }
  EXPECT_TRUE(Rejected(CheckEmail(std::string("alice@exa\0mple.com", 18), "email"), "email",
                       "control characters"));
}

TEST(CheckEmailTest, RefusesInvalidUtf8) {
  EXPECT_TRUE(Rejected(CheckEmail("jos\xC3@example.com", "lead.email"), "lead.email", "UTF-8"));
  EXPECT_TRUE(Rejected(CheckEmail("alice@\xFF.com", "lead.email"), "lead.email", "UTF-8"));
}

// --- CheckPhone -------------------------------------------------------------

TEST(CheckPhoneTest, Accepts) {
  for (absl::string_view phone :
       {"", "   ", "(415) 555-0123", "+44 20 7946 0958", "415-555-0123 x42", "1-800-FLOWERS",
        "＋１ ４１５ ５５５ ０１２３", " 415 555 0123\n"}) {
    EXPECT_TRUE(CheckPhone(phone, "lead.phone").ok()) << phone;
  }
  EXPECT_TRUE(CheckPhone(Repeat("1", 40), "lead.phone").ok());
  EXPECT_TRUE(CheckPhone(Repeat("１", 40), "lead.phone").ok());  // 40 characters, 120 bytes
}

TEST(CheckPhoneTest, AcceptsWhatLibphonenumberCannotKey) {
  // Stored as given, just not used for matching.
  const PhoneNormalizer us = Normalizer("US");
  for (absl::string_view phone : {"123", "+999 1234", "call me after 5", "00 44 20 7946 0958"}) {
    EXPECT_TRUE(CheckPhone(phone, "lead.phone").ok()) << phone;
    EXPECT_EQ(us.E164(phone), "") << phone;
  }
}

TEST(CheckPhoneTest, RefusesNoDigits) {
  for (absl::string_view phone : {"hello", "---", "+", "ext."}) {
    EXPECT_TRUE(
        Rejected(CheckPhone(phone, "lead.phone"), "lead.phone", "must contain at least one digit"))
        << phone;
  }
}

TEST(CheckPhoneTest, RefusesTooLong) {
  EXPECT_TRUE(Rejected(CheckPhone(Repeat("1", 41), "lead.phone"), "lead.phone",
                       "must be at most 40 characters"));
  EXPECT_TRUE(
      Rejected(CheckPhone(Repeat("１", 41), "lead.phone"), "lead.phone", "at most 40 characters"));
}

TEST(CheckPhoneTest, RefusesControlCharactersAndInvalidUtf8) {
  EXPECT_TRUE(Rejected(CheckPhone("415\n555 0123", "lead.phone"), "lead.phone",
                       "must not contain control characters"));
  EXPECT_TRUE(Rejected(CheckPhone(std::string("415") + '\0' + "5550123", "lead.phone"),
                       "lead.phone", "control characters"));
  EXPECT_TRUE(Rejected(CheckPhone("\xFF"
                                  "415",
                                  "lead.phone"),
                       "lead.phone", "must be valid UTF-8"));
}

// --- CheckSource ------------------------------------------------------------

TEST(CheckSourceTest, Accepts) {
  for (absl::string_view source : {"web_form", "a", "zillow2", "open_house_2024", "x_"}) {
    EXPECT_TRUE(CheckSource(source, "lead.source").ok()) << source;
  }
  EXPECT_TRUE(CheckSource("a" + Repeat("b", 63), "lead.source").ok());
}

TEST(CheckSourceTest, IsRequired) {
  EXPECT_TRUE(Rejected(CheckSource("", "lead.source"), "lead.source", "is required"));
}

TEST(CheckSourceTest, RefusesOtherTokens) {
  for (absl::string_view source : {"Web_form", "WEB", "1web", "_web", "web-form", "web form", "wéb",
                                   " web", "web\n", "web.form"}) {
    EXPECT_TRUE(Rejected(CheckSource(source, "lead.source"), "lead.source", "lower_snake_case"))
        << source;
  }
  EXPECT_TRUE(Rejected(CheckSource("a" + Repeat("b", 64), "lead.source"), "lead.source",
                       "must be at most 64 characters"));
}

// --- CheckExternalId --------------------------------------------------------

TEST(CheckExternalIdTest, Accepts) {
  for (absl::string_view id : {"", "ZLW-123/abc?x=1", "0", "~!@#$%^&*()_+{}|:<>?"}) {
    EXPECT_TRUE(CheckExternalId(id, "lead.external_id").ok()) << id;
  }
  EXPECT_TRUE(CheckExternalId(Repeat("x", 128), "lead.external_id").ok());
}

TEST(CheckExternalIdTest, Refuses) {
  EXPECT_TRUE(Rejected(CheckExternalId(Repeat("x", 129), "lead.external_id"), "lead.external_id",
                       "must be at most 128 bytes"));
  for (const std::string& id : {std::string("a b"), std::string(" abc"), std::string("abc\n"),
                                std::string("é"), std::string("a\x7F"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(Rejected(CheckExternalId(id, "lead.external_id"), "lead.external_id",
                         "must be printable ASCII without spaces"))
        << absl::CHexEscape(id);
  }
}

// --- CheckText --------------------------------------------------------------

TEST(CheckTextTest, Accepts) {
  for (absl::string_view text :
       {"", "Called, left a message.", "line 1\nline 2\r\n\tindented", "José ☕ 李"}) {
    EXPECT_TRUE(CheckText(text, "lead.notes", kMaxNotesBytes).ok()) << text;
  }
  EXPECT_TRUE(CheckText(Repeat("a", kMaxContactInfoBytes), "c", kMaxContactInfoBytes).ok());
  EXPECT_TRUE(CheckText(Repeat("é", kMaxMessageBytes / 2), "m", kMaxMessageBytes).ok());
  EXPECT_TRUE(CheckText(Repeat("a", kMaxNotesBytes), "n", kMaxNotesBytes).ok());
}

TEST(CheckTextTest, LimitIsInBytes) {
  EXPECT_TRUE(Rejected(
      CheckText(Repeat("a", kMaxContactInfoBytes + 1), "lead.contact_info", kMaxContactInfoBytes),
      "lead.contact_info", "must be at most 2000 bytes"));
  // 2501 'é' are 2501 characters but 5002 bytes.
  EXPECT_TRUE(Rejected(CheckText(Repeat("é", 2501), "message", kMaxMessageBytes), "message",
                       "must be at most 5000 bytes"));
  EXPECT_TRUE(Rejected(CheckText(Repeat("a", kMaxNotesBytes + 1), "lead.notes", kMaxNotesBytes),
                       "lead.notes", "at most 20000 bytes"));
  EXPECT_TRUE(Rejected(CheckText("abc", "note", 2), "note", "at most 2 bytes"));
}

TEST(CheckTextTest, RefusesOtherControlCharacters) {
  for (const std::string& text :
       {std::string("bell\a"), std::string("\x1B[31mred"), std::string("a\vb"), std::string("a\fb"),
        std::string("a\x7F"), std::string("a\0b", 3),
        std::string("a\xC2\x9B"
                    "b")}) {  // U+009B, a C1 control
    EXPECT_TRUE(Rejected(CheckText(text, "lead.notes", kMaxNotesBytes), "lead.notes",
                         "control characters other than newline, carriage return and tab"))
        << absl::CHexEscape(text);
  }
}

TEST(CheckTextTest, RefusesInvalidUtf8) {
  for (const std::string& bad : BadUtf8()) {
    EXPECT_TRUE(
        Rejected(CheckText(bad, "lead.notes", kMaxNotesBytes), "lead.notes", "must be valid UTF-8"))
        << absl::CHexEscape(bad);
  }
}

// --- CheckQuery -------------------------------------------------------------

TEST(CheckQueryTest, Accepts) {
  for (absl::string_view query : {"", "José", "415-555", "alice@example.com", "  spaced  "}) {
    EXPECT_TRUE(CheckQuery(query, "query").ok()) << query;
  }
  EXPECT_TRUE(CheckQuery(Repeat("é", 200), "query").ok());
}

TEST(CheckQueryTest, Refuses) {
  EXPECT_TRUE(
      Rejected(CheckQuery(Repeat("é", 201), "query"), "query", "must be at most 200 characters"));
  EXPECT_TRUE(Rejected(CheckQuery(Repeat("a", 201), "query"), "query", "at most 200 characters"));
  for (const std::string& query : {std::string("a\nb"), std::string("\t"), std::string("a\0", 2)}) {
    EXPECT_TRUE(
        Rejected(CheckQuery(query, "query"), "query", "must not contain control characters"))
        << absl::CHexEscape(query);
  }
  for (const std::string& bad : BadUtf8()) {
    EXPECT_TRUE(Rejected(CheckQuery(bad, "query"), "query", "must be valid UTF-8"))
        << absl::CHexEscape(bad);
  }
}

// --- CheckRequestId ---------------------------------------------------------

TEST(CheckRequestIdTest, Accepts) {
  for (absl::string_view id :
       {"", "7b0c6c1e-2f1a-4c1e-9e53-0c8f4e1a2b3c", "import 2024-05 #3", "~"}) {
    EXPECT_TRUE(CheckRequestId(id, "request_id").ok()) << id;
  }
  EXPECT_TRUE(CheckRequestId(Repeat("r", 128), "request_id").ok());
}

TEST(CheckRequestIdTest, Refuses) {
  EXPECT_TRUE(Rejected(CheckRequestId(Repeat("r", 129), "request_id"), "request_id",
                       "must be at most 128 bytes"));
  for (const std::string& id :
       {std::string("abc\n"), std::string("é"), std::string("\x7F"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(Rejected(CheckRequestId(id, "request_id"), "request_id", "must be printable ASCII"))
        << absl::CHexEscape(id);
  }
}

// --- All checks -------------------------------------------------------------

TEST(LeadFieldsTest, EveryCheckNamesTheFieldAsGiven) {
  const std::string field = "leads[3].custom";
  const std::vector<std::function<absl::Status()>> checks = {
      [&] { return CheckName("", field, true); },    [&] { return CheckEmail("nope", field); },
      [&] { return CheckPhone("none", field); },     [&] { return CheckSource("Bad", field); },
      [&] { return CheckExternalId("a b", field); }, [&] { return CheckText("\x01", field, 10); },
      [&] { return CheckQuery("\x01", field); },     [&] { return CheckRequestId("\x01", field); },
  };
  for (size_t i = 0; i < checks.size(); ++i) {
    EXPECT_TRUE(Rejected(checks[i](), field, "")) << "check " << i;
  }
}

TEST(LeadFieldsTest, RefusalReachesTheWireAsBadRequest) {
  const grpc::Status wire = ToGrpcStatus(CheckName(Repeat("é", 101), "lead.name", true));
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(wire.error_message(), "lead.name: must be at most 100 characters");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(wire.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "lead.name");
  EXPECT_EQ(bad_request.field_violations(0).description(), "must be at most 100 characters");
}

}  // namespace
}  // namespace crm::leads
