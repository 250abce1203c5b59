#include "tools/listings/reso_record.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/listings/feed_reader.h"

namespace crm::listings {
namespace {

namespace pv1 = properties::v1;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// One record as an import sees it: through FeedReader, decimals as text.
json ViaReader(std::string text) {
  // One NDJSON line (the records below are spread over lines to be read).
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::istringstream in(text);
  json out;
  int calls = 0;
  absl::Status status =
      FeedReader::Read(in, FeedFormat::kNdjson, [&](absl::StatusOr<json> r, int64_t) {
        ++calls;
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok()) {
          out = *std::move(r);
        }
        return true;
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 1) << text;
  return out;
}

// The same record as a caller that parsed it itself: decimals as doubles.
json ViaDom(const std::string& text) { return json::parse(text); }

std::string Message(const absl::Status& status) { return std::string(status.message()); }

absl::StatusOr<pv1::Property> Map(const std::string& text) { return FromReso(ViaReader(text)); }

// Both ways a record reaches FromReso.
class ResoRecordPathsTest : public ::testing::TestWithParam<bool> {
 protected:
  json Parse(const std::string& text) { return GetParam() ? ViaReader(text) : ViaDom(text); }
  absl::StatusOr<pv1::Property> MapBoth(const std::string& text) { return FromReso(Parse(text)); }
};

INSTANTIATE_TEST_SUITE_P(Paths, ResoRecordPathsTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("FeedReader") : std::string("Dom");
                         });

TEST(ResoRecordTest, EveryStandardStatusDisplayValueAndWebApiForm) {
  const std::vector<std::pair<std::string, pv1::PropertyStatus>> cases = {
      {"Active", pv1::PROPERTY_STATUS_ACTIVE},
      {"Active Under Contract", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT},
      {"ActiveUnderContract", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT},
      {"Coming Soon", pv1::PROPERTY_STATUS_COMING_SOON},
      {"ComingSoon", pv1::PROPERTY_STATUS_COMING_SOON},
      {"Pending", pv1::PROPERTY_STATUS_PENDING},
      {"Closed", pv1::PROPERTY_STATUS_CLOSED},
      {"Canceled", pv1::PROPERTY_STATUS_CANCELED},
      {"Cancelled", pv1::PROPERTY_STATUS_CANCELED},
      {"Expired", pv1::PROPERTY_STATUS_EXPIRED},
      {"Withdrawn", pv1::PROPERTY_STATUS_WITHDRAWN},
      {"Hold", pv1::PROPERTY_STATUS_HOLD},
      {"Incomplete", pv1::PROPERTY_STATUS_INCOMPLETE},
      {"active under contract", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT},
      {"Active_Under_Contract", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT},
  };
  for (const auto& [value, status] : cases) {
    EXPECT_EQ(StatusFromReso(value), status) << value;
    absl::StatusOr<pv1::Property> p =
        FromReso(json{{"ListingId", "A1"}, {"StandardStatus", value}});
    ASSERT_TRUE(p.ok()) << value << ": " << p.status();
    EXPECT_EQ(p->status(), status) << value;
  }
}

TEST(ResoRecordTest, UnknownStandardStatusIsRefusedByName) {
  EXPECT_EQ(StatusFromReso("Sold"), pv1::PROPERTY_STATUS_UNSPECIFIED);
  for (const std::string value : {"Sold", "Active Kick Out", "Delete", "A"}) {
    absl::StatusOr<pv1::Property> p =
        FromReso(json{{"ListingId", "A1"}, {"StandardStatus", value}});
    ASSERT_FALSE(p.ok()) << value;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(p.status()), StartsWith("StandardStatus:"));
    EXPECT_THAT(Message(p.status()), HasSubstr(value));
  }
  absl::StatusOr<pv1::Property> p = FromReso(json{{"ListingId", "A1"}, {"StandardStatus", true}});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("StandardStatus:"));
}

TEST(ResoRecordTest, PropertyTypeDisplayValuesAndWebApiForms) {
  const std::vector<std::pair<std::string, pv1::PropertyType>> cases = {
      {"Residential", pv1::PROPERTY_TYPE_RESIDENTIAL},
      {"Residential Income", pv1::PROPERTY_TYPE_RESIDENTIAL_INCOME},
      {"ResidentialIncome", pv1::PROPERTY_TYPE_RESIDENTIAL_INCOME},
      {"Residential Lease", pv1::PROPERTY_TYPE_RESIDENTIAL_LEASE},
      {"ResidentialLease", pv1::PROPERTY_TYPE_RESIDENTIAL_LEASE},
      {"Land", pv1::PROPERTY_TYPE_LAND},
      {"Farm", pv1::PROPERTY_TYPE_FARM},
      {"Commercial Sale", pv1::PROPERTY_TYPE_COMMERCIAL_SALE},
      {"CommercialLease", pv1::PROPERTY_TYPE_COMMERCIAL_LEASE},
      {"Business Opportunity", pv1::PROPERTY_TYPE_BUSINESS_OPPORTUNITY},
      {"Manufactured In Park", pv1::PROPERTY_TYPE_MANUFACTURED_IN_PARK},
      {"ManufacturedInPark", pv1::PROPERTY_TYPE_MANUFACTURED_IN_PARK},
  };
  for (const auto& [value, type] : cases) {
    absl::StatusOr<pv1::Property> p = FromReso(json{{"ListingId", "A1"}, {"PropertyType", value}});
    ASSERT_TRUE(p.ok()) << value << ": " << p.status();
    EXPECT_EQ(p->property_type(), type) << value;
  }
  absl::StatusOr<pv1::Property> p = FromReso(json{{"ListingId", "A1"}, {"PropertyType", "Castle"}});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("PropertyType:"));
}

TEST_P(ResoRecordPathsTest, PricesAreExactToTheCent) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"525000.00", 52500000},
      {"525000.1", 52500010},
      {"0.29", 29},
      {"19999999.99", 1999999999},
      {"\"525000\"", 52500000},
      {"525000", 52500000},
      {"0.07", 7},
      {"\"1234.5\"", 123450},
      {"999999999999.99", 99999999999999},
      {"\"525000.000\"", 52500000},
      {"4.35", 435},
      {"1.15", 115},
  };
  for (const auto& [text, cents] : cases) {
    absl::StatusOr<pv1::Property> p =
        MapBoth("{\"ListingId\":\"A1\",\"ListPrice\":" + text + ",\"ClosePrice\":" + text + "}");
    ASSERT_TRUE(p.ok()) << text << ": " << p.status();
    EXPECT_EQ(p->price_cents(), cents) << text;
    EXPECT_EQ(p->close_price_cents(), cents) << text;
  }
}

TEST_P(ResoRecordPathsTest, MoreThanTwoDecimalsAreRefused) {
  for (const std::string text : {"1.005", "525000.001", "\"0.125\"", "\"5.25e5\"", "\"12,500\"",
                                 "\"$525000\"", "\"\"", "true", "[1]"}) {
    absl::StatusOr<pv1::Property> p = MapBoth("{\"ListingId\":\"A1\",\"ListPrice\":" + text + "}");
    if (text == "\"\"") {
      // An empty string is a missing value.
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(p->price_cents(), 0);
      continue;
    }
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(p.status()), StartsWith("ListPrice:")) << text;
  }
}

// Where the two paths part: a double has already lost how it was written.
TEST(ResoRecordTest, ExponentsAreRefusedOnlyWhenTheirTextIsSeen) {
  absl::StatusOr<pv1::Property> p = Map(R"({"ListingId":"A1","ListPrice":5.25e5})");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("ListPrice:"));
  p = Map(R"({"ListingId":"A1","ListPrice":5E2})");
  ASSERT_FALSE(p.ok());

  // Parsed by the caller, 5.25e5 is the double 525000.0: indistinguishable
  // from 525000.0, so it is taken.
  p = FromReso(ViaDom(R"({"ListingId":"A1","ListPrice":5.25e5})"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->price_cents(), 52500000);

  // The reader keeps 525000.00 as its text; a DOM keeps a double.
  EXPECT_EQ(ViaReader(R"({"ListPrice":525000.00})")["ListPrice"], json("525000.00"));
  EXPECT_TRUE(ViaDom(R"({"ListPrice":525000.00})")["ListPrice"].is_number_float());
}

TEST(ResoRecordTest, CentsFromDecimal) {
  EXPECT_EQ(*CentsFromDecimal("525000"), 52500000);
  EXPECT_EQ(*CentsFromDecimal("525000.5"), 52500050);
  EXPECT_EQ(*CentsFromDecimal("525000.05"), 52500005);
  EXPECT_EQ(*CentsFromDecimal(" 12.50 "), 1250);
  EXPECT_EQ(*CentsFromDecimal("-12.5"), -1250);
  EXPECT_EQ(*CentsFromDecimal("0"), 0);
  EXPECT_EQ(*CentsFromDecimal("525000."), 52500000);
  EXPECT_EQ(*CentsFromDecimal("92233720368547757.00"), 9223372036854775700);
  for (const char* bad : {"", "-", ".5", "+5", "1e5", "1E5", "1.005", "12,500", "0x10",
                          "99999999999999999999", "92233720368547758.00", "1.2.3", "- 5"}) {
    EXPECT_FALSE(CentsFromDecimal(bad).ok()) << bad;
  }
}

TEST_P(ResoRecordPathsTest, MissingOptionalFieldsStayUnset) {
  absl::StatusOr<pv1::Property> p = MapBoth(R"({"ListingId":"A1"})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->mls_id(), "A1");
  EXPECT_FALSE(p->has_latitude());
  EXPECT_FALSE(p->has_longitude());
  EXPECT_FALSE(p->has_modification_timestamp());
  EXPECT_FALSE(p->has_status_change_timestamp());
  EXPECT_FALSE(p->has_price_change_timestamp());
  EXPECT_EQ(p->status(), pv1::PROPERTY_STATUS_UNSPECIFIED);
  EXPECT_EQ(p->property_type(), pv1::PROPERTY_TYPE_UNSPECIFIED);
  EXPECT_EQ(p->price_cents(), 0);
  EXPECT_EQ(p->close_price_cents(), 0);
  EXPECT_EQ(p->bedrooms(), 0);
  EXPECT_EQ(p->living_area_sqft(), 0);
  EXPECT_EQ(p->lot_size_sqft(), 0);
  EXPECT_EQ(p->year_built(), 0);
  EXPECT_EQ(p->listing_key(), "");
  EXPECT_EQ(p->originating_system_name(), "");
  EXPECT_EQ(p->mls_status(), "");
  EXPECT_EQ(p->description(), "");
  EXPECT_EQ(p->list_date(), "");
  EXPECT_EQ(p->on_market_date(), "");
  EXPECT_EQ(p->close_date(), "");
  EXPECT_EQ(p->address().street(), "");
  EXPECT_EQ(p->address().city(), "");
  EXPECT_EQ(p->address().country(), "");
}

TEST_P(ResoRecordPathsTest, NullFieldsAreMissingFields) {
  absl::StatusOr<pv1::Property> p = MapBoth(R"({
    "ListingId": "A1", "ListingKey": null, "StandardStatus": null, "PropertyType": null,
    "ListPrice": null, "ClosePrice": null, "UnparsedAddress": null, "StreetName": null,
    "City": null, "Country": null, "Latitude": null, "Longitude": null, "BedroomsTotal": null,
    "LivingArea": null, "LotSizeSquareFeet": null, "YearBuilt": null, "PublicRemarks": null,
    "ListingContractDate": null, "ModificationTimestamp": null, "StatusChangeTimestamp": null,
    "PriceChangeTimestamp": null})");
  ASSERT_TRUE(p.ok()) << p.status();
  pv1::Property expected;
  expected.set_mls_id("A1");
  expected.mutable_address();
  EXPECT_EQ(p->SerializeAsString(), expected.SerializeAsString()) << p->DebugString();
  EXPECT_FALSE(p->has_latitude());
}

TEST_P(ResoRecordPathsTest, OneCoordinateIsKeptAlone) {
  // The pair rule is the service's; the mapping keeps what the feed says.
  absl::StatusOr<pv1::Property> p = MapBoth(R"({"ListingId":"A1","Latitude":39.781721})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->has_latitude());
  EXPECT_DOUBLE_EQ(p->latitude(), 39.781721);
  EXPECT_FALSE(p->has_longitude());

  p = MapBoth(R"({"ListingId":"A1","Latitude":"39.781721","Longitude":-89.650148})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_DOUBLE_EQ(p->latitude(), 39.781721);
  EXPECT_DOUBLE_EQ(p->longitude(), -89.650148);

  p = MapBoth(R"({"ListingId":"A1","Latitude":"north"})");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("Latitude:"));
}

TEST(ResoRecordTest, UnparsedAddressGivesTheStreetBeforeStructuredParts) {
  absl::StatusOr<pv1::Property> p = Map(R"({"ListingId":"A1",
      "UnparsedAddress": "1234 Maple St, Springfield, IL 62704",
      "StreetNumber": "99", "StreetName": "Other", "StreetSuffix": "Ave",
      "UnitNumber": "4B", "City": "Springfield", "StateOrProvince": "IL",
      "PostalCode": "62704", "Country": "US"})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->address().street(), "1234 Maple St");
  EXPECT_EQ(p->address().unit(), "4B");
  EXPECT_EQ(p->address().city(), "Springfield");
  EXPECT_EQ(p->address().state_or_province(), "IL");
  EXPECT_EQ(p->address().postal_code(), "62704");
  EXPECT_EQ(p->address().country(), "US");

  // Without a comma the whole value is the street.
  p = Map(R"({"ListingId":"A1","UnparsedAddress":"  1234 Maple St  "})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->address().street(), "1234 Maple St");
}

TEST(ResoRecordTest, StructuredStreetPartsWhenNoUnparsedAddress) {
  absl::StatusOr<pv1::Property> p = Map(R"({"ListingId":"A1", "StreetNumber": 1234,
      "StreetDirPrefix": "N", "StreetName": "Maple", "StreetSuffix": "St",
      "StreetDirSuffix": "SW", "City": "Springfield"})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->address().street(), "1234 N Maple St SW");

  // Missing parts leave no double spaces; an UnparsedAddress with no street
  // part falls back to them too.
  p = Map(R"({"ListingId":"A1", "UnparsedAddress": ", Springfield, IL",
      "StreetNumber": "1234", "StreetDirPrefix": null, "StreetName": "Maple",
      "StreetSuffix": "St"})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->address().street(), "1234 Maple St");
}

TEST_P(ResoRecordPathsTest, CountsFromDecimalsAndText) {
  absl::StatusOr<pv1::Property> p = MapBoth(R"({"ListingId":"A1", "LivingArea": 1850.00,
      "LotSizeSquareFeet": 7405.20, "BedroomsTotal": "3", "BathroomsFull": 2,
      "BathroomsHalf": 1, "BathroomsTotalInteger": 3, "YearBuilt": 1998})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->living_area_sqft(), 1850);
  EXPECT_EQ(p->lot_size_sqft(), 7405);
  EXPECT_EQ(p->bedrooms(), 3);
  EXPECT_EQ(p->bathrooms_full(), 2);
  EXPECT_EQ(p->bathrooms_half(), 1);
  EXPECT_EQ(p->bathrooms_total_integer(), 3);
  EXPECT_EQ(p->year_built(), 1998);

  p = MapBoth(R"({"ListingId":"A1", "LivingArea": 1850.5, "LotSizeSquareFeet": 43560})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->living_area_sqft(), 1851);
  EXPECT_EQ(p->lot_size_sqft(), 43560);

  p = MapBoth(R"({"ListingId":"A1", "BedroomsTotal": "three"})");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("BedroomsTotal:"));

  p = MapBoth(R"({"ListingId":"A1", "YearBuilt": 99999999999})");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("YearBuilt:"));
}

TEST_P(ResoRecordPathsTest, CountsPastInt64AreOutOfRange) {
  for (const std::string field : {"LivingArea", "LotSizeSquareFeet", "BedroomsTotal"}) {
    for (const std::string value : {"1.5e300", "-1.5e300", "9223372036854775807.5",
                                    "-9223372036854777856.5", "\"1.5e400\"", "\"-1.5e400\""}) {
      const std::string text = "{\"ListingId\":\"A1\",\"" + field + "\":" + value + "}";
      absl::StatusOr<pv1::Property> p = MapBoth(text);
      ASSERT_FALSE(p.ok()) << text;
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << text;
      EXPECT_EQ(Message(p.status()), field + ": is out of range") << text;
    }
  }
  // Large but in range: kept.
  absl::StatusOr<pv1::Property> p = MapBoth(R"({"ListingId":"A1","LotSizeSquareFeet":1.5e10})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->lot_size_sqft(), 15000000000);
}

TEST(ResoRecordTest, TimestampsAndDates) {
  absl::StatusOr<pv1::Property> p = Map(R"({"ListingId":"A1",
      "ModificationTimestamp": "2026-10-05T14:03:00Z",
      "StatusChangeTimestamp": "2026-10-05T16:03:00+02:00",
      "PriceChangeTimestamp": "2026-10-01T09:30:00.25Z",
      "ListingContractDate": "2026-09-01",
      "OnMarketDate": "2026-09-03T00:00:00Z",
      "CloseDate": "2026-11-15"})");
  ASSERT_TRUE(p.ok()) << p.status();
  const int64_t expected = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2026, 10, 5, 14, 3, 0), absl::UTCTimeZone()));
  ASSERT_TRUE(p->has_modification_timestamp());
  EXPECT_EQ(p->modification_timestamp().seconds(), expected);
  EXPECT_EQ(p->modification_timestamp().nanos(), 0);
  ASSERT_TRUE(p->has_status_change_timestamp());
  EXPECT_EQ(p->status_change_timestamp().seconds(), expected);
  ASSERT_TRUE(p->has_price_change_timestamp());
  EXPECT_EQ(p->price_change_timestamp().nanos(), 250000000);
  EXPECT_EQ(p->list_date(), "2026-09-01");
  EXPECT_EQ(p->on_market_date(), "2026-09-03");
  EXPECT_EQ(p->close_date(), "2026-11-15");

  for (const char* bad : {"yesterday", "2026-10-05", "2026-10-05 14:03:00", "1791000000"}) {
    p = FromReso(json{{"ListingId", "A1"}, {"ModificationTimestamp", bad}});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_THAT(Message(p.status()), StartsWith("ModificationTimestamp:")) << bad;
  }
}

TEST(ResoRecordTest, ListingIdIsRequired) {
  for (const std::string text :
       {R"({"ListingKey":"k1"})", R"({"ListingId":null})", R"({"ListingId":""})"}) {
    absl::StatusOr<pv1::Property> p = Map(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(p.status()), StartsWith("ListingId:")) << text;
  }
  absl::StatusOr<pv1::Property> p = Map(R"({"ListingId":{"id":"A1"}})");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Message(p.status()), StartsWith("ListingId:"));

  // A numeric MLS number is its digits.
  p = Map(R"({"ListingId":20261005})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->mls_id(), "20261005");
}

TEST(ResoRecordTest, TextFieldsAndIgnoredFields) {
  absl::StatusOr<pv1::Property> p = Map(R"json({"ListingId":"A1", "ListingKey": "3yd-A1",
      "OriginatingSystemName": "CRMLS", "MlsStatus": "Back On Market",
      "PublicRemarks": "Steps from the caf\u00e9. \"As is\".",
      "Appliances": ["Dishwasher", "Range"], "Rooms": [{"RoomType": "Kitchen"}],
      "@odata.id": "https://example/Property('3yd-A1')"})json");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->listing_key(), "3yd-A1");
  EXPECT_EQ(p->originating_system_name(), "CRMLS");
  EXPECT_EQ(p->mls_status(), "Back On Market");
  EXPECT_EQ(p->description(), "Steps from the caf\xc3\xa9. \"As is\".");
}

TEST(ResoRecordTest, ARecordMustBeAnObject) {
  for (const json& record : {json::array(), json("A1"), json(nullptr)}) {
    absl::StatusOr<pv1::Property> p = FromReso(record);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace crm::listings
