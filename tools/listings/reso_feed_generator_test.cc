#include "tools/listings/reso_feed_generator.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/properties/property_fields.h"
#include "services/properties/property_record.h"
#include "tools/listings/feed_reader.h"
#include "tools/listings/reso_record.h"

namespace crm::listings {
namespace {

namespace pv1 = properties::v1;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Feed(const FeedOptions& options) {
  std::ostringstream out;
  WriteFeed(options, out);
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// What the service checks, on the fields a feed sets (the service's own
// proto conversion lives in its server library).
absl::Status ServiceChecks(const pv1::Property& p) {
  properties::PropertyRecord l;
  l.mls_id = p.mls_id();
  l.address.street = p.address().street();
  l.address.unit = p.address().unit();
  l.address.city = p.address().city();
  l.address.state_or_province = p.address().state_or_province();
  l.address.postal_code = p.address().postal_code();
  l.address.country = p.address().country();
  l.price_cents = p.price_cents();
  l.close_price_cents = p.close_price_cents();
  l.bedrooms = p.bedrooms();
  l.bathrooms_full = p.bathrooms_full();
  l.bathrooms_half = p.bathrooms_half();
  l.bathrooms_total_integer = p.bathrooms_total_integer();
  l.living_area_sqft = p.living_area_sqft();
  l.lot_size_sqft = p.lot_size_sqft();
  l.year_built = p.year_built();
  l.description = p.description();
  l.list_date = p.list_date();
  l.on_market_date = p.on_market_date();
  l.close_date = p.close_date();
  l.listing_key = p.listing_key();
  l.originating_system_name = p.originating_system_name();
  if (p.has_latitude()) {
    l.latitude = p.latitude();
  }
  if (p.has_longitude()) {
    l.longitude = p.longitude();
  }
  l.mls_status = p.mls_status();
  properties::Normalize(l);
  return properties::CheckListing(l, "property");
}

// FromReso, then the service's checks.
absl::Status Import(const json& record) {
  absl::StatusOr<pv1::Property> p = FromReso(record);
  return p.ok() ? ServiceChecks(*p) : p.status();
}

// "525000.00": digits, a dot, two digits.
bool TwoDecimals(const std::string& text) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 3 != text.size()) {
    return false;
  }
  for (size_t k = 0; k < text.size(); ++k) {
    if (k != dot && !absl::ascii_isdigit(text[k])) {
      return false;
    }
  }
  return true;
}

bool Rfc3339Utc(const std::string& text) {
  return text.size() == 20 && text[4] == '-' && text[10] == 'T' && text[13] == ':' &&
         text.back() == 'Z';
}

// The value of "key" as written in one record's JSON text.
std::string RawValue(const std::string& record_text, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const size_t at = record_text.find(needle);
  if (at == std::string::npos) {
    return "";
  }
  const size_t begin = at + needle.size();
  return record_text.substr(begin, record_text.find_first_of(",}", begin) - begin);
}

TEST(ResoFeedGeneratorTest, SameOptionsSameBytes) {
  FeedOptions options;
  options.count = 300;
  options.seed = 7;
  options.agent_emails = {"ann@brokerage.test", "bob@brokerage.test"};
  options.bad_fraction = 0.1;
  for (bool ndjson : {false, true}) {
    options.ndjson = ndjson;
    const std::string first = Feed(options);
    EXPECT_EQ(first, Feed(options));
    EXPECT_GT(first.size(), 300u * 500);
  }
  // Seeded, and the seed matters.
  FeedOptions other = options;
  other.seed = 8;
  EXPECT_NE(Feed(options), Feed(other));
  // The same on every machine and every build: a fixed point.
  EXPECT_EQ(GenerateRecord(FeedOptions(), 0)["ListingKey"], "aa4c9b89c6713b31661ff0fd9ddad37d");
}

// A later revision lists the same listings; the changed share has a lower
// price and that day's PriceChangeTimestamp, the rest are as they were.
TEST(ResoFeedGeneratorTest, ARevisionCutsThePriceOfItsShare) {
  FeedOptions day0;
  day0.seed = 5;
  FeedOptions day3 = day0;
  day3.revision = 3;
  day3.changed_fraction = 0.25;
  int changed = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const json before = GenerateRecord(day0, i);
    const json after = GenerateRecord(day3, i);
    EXPECT_EQ(before["ListingKey"], after["ListingKey"]);
    EXPECT_EQ(before["ListingId"], after["ListingId"]);
    EXPECT_EQ(before["UnparsedAddress"], after["UnparsedAddress"]);
    if (before == after) {
      continue;
    }
    ++changed;
    EXPECT_LT(std::stod(after["ListPrice"].get<std::string>()),
              std::stod(before["ListPrice"].get<std::string>()));
    EXPECT_EQ(after["PriceChangeTimestamp"].get<std::string>().substr(0, 10), "2026-10-03");
  }
  EXPECT_GT(changed, n / 4 - n / 20);
  EXPECT_LT(changed, n / 4 + n / 20);
  day3.changed_fraction = 0;
  EXPECT_EQ(GenerateRecord(day0, 17), GenerateRecord(day3, 17));
}

TEST(ResoFeedGeneratorTest, RecordDependsOnlyOnSeedAndIndex) {
  FeedOptions small;
  small.count = 40;
  small.ndjson = true;
  FeedOptions large = small;
  large.count = 80;
  const std::vector<std::string> a = Lines(Feed(small));
  const std::vector<std::string> b = Lines(Feed(large));
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), 80u);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k], b[k]) << k;
  }
  EXPECT_EQ(GenerateRecord(small, 500), GenerateRecord(large, 500));
  std::string text;
  AppendRecordJson(large, 70, &text);
  EXPECT_EQ(text, b[70]);
}

TEST(ResoFeedGeneratorTest, WebApiPayloadReadsBackRecordForRecord) {
  FeedOptions options;
  options.count = 1000;
  options.seed = 3;
  const std::string feed = Feed(options);

  const json whole = json::parse(feed);
  EXPECT_THAT(whole["@odata.context"].get<std::string>(), HasSubstr("$metadata#Property"));
  EXPECT_EQ(whole["@odata.count"], options.count);
  EXPECT_EQ(whole["value"].size(), 1000u);

  std::istringstream in(feed);
  int64_t n = 0;
  absl::Status status =
      FeedReader::Read(in, FeedFormat::kAuto, [&](absl::StatusOr<json> record, int64_t index) {
        EXPECT_EQ(index, n);
        ++n;
        EXPECT_TRUE(record.ok()) << record.status();
        if (record.ok()) {
          // GenerateRecord is what the reader hands over, decimals as text.
          EXPECT_EQ(*record, GenerateRecord(options, index)) << index;
        }
        return true;
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(n, options.count);
}

TEST(ResoFeedGeneratorTest, NdjsonIsOneRecordPerLine) {
  FeedOptions options;
  options.count = 200;
  options.ndjson = true;
  const std::string feed = Feed(options);
  const std::vector<std::string> lines = Lines(feed);
  ASSERT_EQ(lines.size(), 200u);
  EXPECT_TRUE(absl::EndsWith(feed, "}\n"));
  for (const std::string& line : lines) {
    EXPECT_TRUE(json::parse(line).is_object());
  }
  std::istringstream in(feed);
  int64_t n = 0;
  ASSERT_TRUE(FeedReader::Read(in, FeedFormat::kAuto, [&](absl::StatusOr<json> record, int64_t) {
                EXPECT_TRUE(record.ok());
                ++n;
                return true;
              }).ok());
  EXPECT_EQ(n, 200);
}

TEST(ResoFeedGeneratorTest, NoRecords) {
  FeedOptions options;
  options.count = 0;
  const json whole = json::parse(Feed(options));
  EXPECT_EQ(whole["value"], json::array());
  EXPECT_EQ(whole["@odata.count"], 0);
  options.ndjson = true;
  EXPECT_EQ(Feed(options), "");
}

TEST(ResoFeedGeneratorTest, EveryRecordImportsCleanly) {
  FeedOptions options;
  options.count = 10000;
  options.seed = 11;
  options.agent_emails = {"agent@brokerage.test"};
  std::set<std::string> listing_ids;
  std::set<std::string> listing_keys;
  std::map<std::string, int> statuses;
  std::map<std::string, int> types;
  std::string text;
  for (int64_t i = 0; i < options.count; ++i) {
    const json record = GenerateRecord(options, i);
    text.clear();
    AppendRecordJson(options, i, &text);
    absl::StatusOr<pv1::Property> p = FromReso(record);
    ASSERT_TRUE(p.ok()) << i << ": " << p.status() << "\n" << text;
    ASSERT_TRUE(ServiceChecks(*p).ok()) << i << ": " << ServiceChecks(*p) << "\n" << text;

    // Prices: numbers written with exactly two decimals, exact in cents.
    const std::string price = RawValue(text, "ListPrice");
    ASSERT_TRUE(TwoDecimals(price)) << price;
    EXPECT_EQ(record["ListPrice"], price);
    EXPECT_GT(p->price_cents(), 0);
    EXPECT_EQ(std::to_string(p->price_cents() / 100) + "." +
                  (p->price_cents() % 100 < 10 ? "0" : "") + std::to_string(p->price_cents() % 100),
              price);
    const std::string latitude = RawValue(text, "Latitude");
    EXPECT_EQ(latitude.size() - latitude.find('.'), 7u) << latitude;  // 6 decimals

    EXPECT_NE(p->status(), pv1::PROPERTY_STATUS_UNSPECIFIED);
    EXPECT_NE(p->property_type(), pv1::PROPERTY_TYPE_UNSPECIFIED);
    EXPECT_FALSE(p->mls_status().empty());
    EXPECT_FALSE(p->description().empty());
    EXPECT_TRUE(p->has_latitude() && p->has_longitude());
    EXPECT_EQ(p->address().country(), "US");
    EXPECT_EQ(p->address().postal_code().size(), 5u);
    EXPECT_TRUE(absl::StartsWith(record["UnparsedAddress"].get<std::string>(),
                                 p->address().street() + ", " + p->address().city() + ", "));
    EXPECT_TRUE(p->has_modification_timestamp());
    EXPECT_TRUE(p->has_status_change_timestamp());
    EXPECT_FALSE(p->list_date().empty());
    EXPECT_LE(p->list_date(), p->on_market_date());
    const std::string modified = record["ModificationTimestamp"];
    EXPECT_TRUE(Rfc3339Utc(modified)) << modified;
    EXPECT_LE(modified, "2026-09-30T23:59:00Z");
    EXPECT_GE(modified, record["StatusChangeTimestamp"].get<std::string>());
    if (record.contains("PriceChangeTimestamp")) {
      EXPECT_GE(modified, record["PriceChangeTimestamp"].get<std::string>());
      EXPECT_GT(CentsFromDecimal(record["OriginalListPrice"].get<std::string>()).value_or(0),
                p->price_cents());
    }
    if (p->status() == pv1::PROPERTY_STATUS_CLOSED) {
      EXPECT_GT(p->close_price_cents(), 0);
      EXPECT_FALSE(p->close_date().empty());
      EXPECT_LE(p->on_market_date(), p->close_date());
    } else {
      EXPECT_EQ(p->close_price_cents(), 0);
      EXPECT_EQ(p->close_date(), "");
    }
    if (p->property_type() != pv1::PROPERTY_TYPE_LAND) {
      EXPECT_GT(p->year_built(), 1800);
      EXPECT_GT(p->living_area_sqft(), 0);
    }

    EXPECT_TRUE(listing_ids.insert(p->mls_id()).second) << p->mls_id();
    EXPECT_TRUE(listing_keys.insert(p->listing_key()).second) << p->listing_key();
    ++statuses[record["StandardStatus"]];
    ++types[record["PropertyType"]];
  }
  EXPECT_EQ(listing_ids.size(), 10000u);
  EXPECT_EQ(listing_keys.size(), 10000u);
  EXPECT_EQ(*listing_ids.begin(), "DM0000001");
  EXPECT_EQ(*listing_ids.rbegin(), "DM0010000");

  // Market-like proportions, every status and type present.
  EXPECT_EQ(statuses.size(), 9u);
  EXPECT_GT(statuses["Active"], 5500);
  EXPECT_LT(statuses["Active"], 6500);
  EXPECT_GT(statuses["Closed"], 900);
  EXPECT_EQ(types.size(), 7u);
  EXPECT_GT(types["Residential"], 7000);
}

TEST(ResoFeedGeneratorTest, ListingIdsFollowFirstAndPrefix) {
  FeedOptions options;
  EXPECT_EQ(GenerateRecord(options, 0)["ListingId"], "DM0000001");
  EXPECT_EQ(GenerateRecord(options, 41)["ListingId"], "DM0000042");
  options.first = 12345678;
  options.listing_id_prefix = "SR-";
  EXPECT_EQ(GenerateRecord(options, 1)["ListingId"], "SR-12345679");
  // The rest of the record does not move with the numbering.
  FeedOptions renumbered;
  renumbered.first = 900;
  json a = GenerateRecord(FeedOptions(), 5);
  json b = GenerateRecord(renumbered, 5);
  a.erase("ListingId");
  b.erase("ListingId");
  EXPECT_EQ(a, b);
}

TEST(ResoFeedGeneratorTest, AgentEmailsRoundRobin) {
  FeedOptions options;
  options.agent_emails = {"ann@brokerage.test", "bob@brokerage.test", "cy@brokerage.test"};
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(GenerateRecord(options, i)["ListAgentEmail"], options.agent_emails[i % 3]) << i;
  }
  options.agent_emails.clear();
  EXPECT_FALSE(GenerateRecord(options, 0).contains("ListAgentEmail"));
}

TEST(ResoFeedGeneratorTest, NoOriginatingSystemNoListingKey) {
  FeedOptions options;
  options.originating_system = "";
  for (int64_t i = 0; i < 20; ++i) {
    const json record = GenerateRecord(options, i);
    EXPECT_FALSE(record.contains("ListingKey"));
    EXPECT_FALSE(record.contains("OriginatingSystemName"));
    EXPECT_TRUE(Import(record).ok()) << Import(record);
  }
}

TEST(ResoFeedGeneratorTest, NamesAreEscaped) {
  FeedOptions options;
  options.count = 3;
  options.originating_system = R"(The "Quoted" \ MLS)";
  const json whole = json::parse(Feed(options));
  ASSERT_EQ(whole["value"].size(), 3u);
  EXPECT_EQ(whole["value"][1]["OriginatingSystemName"], options.originating_system);
  absl::StatusOr<pv1::Property> p = FromReso(whole["value"][1]);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->originating_system_name(), options.originating_system);
}

TEST(ResoFeedGeneratorTest, BadFractionBreaksThatShareRealistically) {
  FeedOptions good;
  good.count = 3000;
  FeedOptions options = good;
  options.bad_fraction = 0.3;
  int failed = 0;
  std::map<std::string, int> kinds;
  for (int64_t i = 0; i < options.count; ++i) {
    const json record = GenerateRecord(options, i);
    absl::Status status = Import(record);
    if (status.ok()) {
      // Records left alone are exactly what they would be without breakage.
      EXPECT_EQ(record, GenerateRecord(good, i)) << i;
      continue;
    }
    ++failed;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    const std::string message(status.message());
    if (absl::StartsWith(message, "ListingId:")) {
      ++kinds["ListingId"];
    } else if (absl::StartsWith(message, "StandardStatus:")) {
      ++kinds["StandardStatus"];
    } else if (absl::StartsWith(message, "property.price_cents:")) {
      ++kinds["price"];
      EXPECT_THAT(record["ListPrice"].get<std::string>(), StartsWith("-"));
    } else {
      ADD_FAILURE() << i << ": " << message;
    }
  }
  EXPECT_GT(failed, 750);
  EXPECT_LT(failed, 1050);
  EXPECT_EQ(kinds.size(), 3u);
  for (const auto& [kind, n] : kinds) {
    EXPECT_GT(n, 200) << kind;
  }

  options.bad_fraction = 1;
  for (int64_t i = 0; i < 100; ++i) {
    EXPECT_FALSE(Import(GenerateRecord(options, i)).ok()) << i;
  }
}

TEST(ResoFeedGeneratorTest, CheckFeedOptions) {
  EXPECT_TRUE(CheckFeedOptions(FeedOptions()).ok());
  const auto error = [](void (*change)(FeedOptions&)) {
    FeedOptions options;
    change(options);
    return std::string(CheckFeedOptions(options).message());
  };
  EXPECT_THAT(error([](FeedOptions& o) { o.count = -1; }), StartsWith("count:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.first = -5; }), StartsWith("first:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.listing_id_prefix = std::string(44, 'X'); }),
              StartsWith("listing_id_prefix:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.listing_id_prefix = "D M"; }),
              StartsWith("listing_id_prefix:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.originating_system = "MLS\n"; }),
              StartsWith("originating_system:"));
  EXPECT_THAT(error([](FeedOptions& o) {
                o.agent_emails = {"a@x.test", "nobody"};
              }),
              StartsWith("agent_emails:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.bad_fraction = 1.5; }), StartsWith("bad_fraction:"));
  EXPECT_THAT(error([](FeedOptions& o) { o.bad_fraction = std::nan(""); }),
              StartsWith("bad_fraction:"));
  // 43 characters of prefix leave room for 7 digits.
  FeedOptions longest;
  longest.listing_id_prefix = std::string(43, 'X');
  EXPECT_TRUE(CheckFeedOptions(longest).ok());
  EXPECT_EQ(GenerateRecord(longest, 0)["ListingId"].get<std::string>().size(), 50u);
}

}  // namespace
}  // namespace crm::listings
