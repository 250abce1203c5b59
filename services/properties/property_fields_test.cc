#include "services/properties/property_fields.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::properties {
namespace {

PropertyRecord Valid() {
  PropertyRecord l;
  l.mls_id = "ML81234567";
  l.address = {.street = "12 Maple St",
               .city = "Springfield",
               .state_or_province = "IL",
               .postal_code = "62701",
               .country = "US"};
  l.price_cents = 52'500'000;
  l.status = "ACTIVE";
  return l;
}

// The field an error names ("" when OK).
std::string FieldOf(const PropertyRecord& l) {
  const absl::Status s = CheckListing(l, "property");
  if (s.ok()) {
    return "";
  }
  const std::string message(s.message());
  return message.substr(0, message.find(':'));
}

TEST(PropertyFieldsTest, AValidListingPasses) { EXPECT_EQ(FieldOf(Valid()), ""); }

TEST(PropertyFieldsTest, EachRuleNamesItsField) {
  struct Case {
    std::string field;
    void (*spoil)(PropertyRecord&);
  };
  const std::vector<Case> cases = {
      {"property.mls_id", [](PropertyRecord& l) { l.mls_id = ""; }},
      {"property.mls_id", [](PropertyRecord& l) { l.mls_id = "ML 1"; }},
      {"property.mls_id", [](PropertyRecord& l) { l.mls_id = std::string(51, '1'); }},
      {"property.address.street", [](PropertyRecord& l) { l.address.street = " "; }},
      {"property.address.city", [](PropertyRecord& l) { l.address.city = ""; }},
      {"property.address.country", [](PropertyRecord& l) { l.address.country = "USA"; }},
      {"property.price_cents", [](PropertyRecord& l) { l.price_cents = -1; }},
      {"property.price_cents", [](PropertyRecord& l) { l.price_cents = kMaxPriceCents + 1; }},
      {"property.close_price_cents", [](PropertyRecord& l) { l.close_price_cents = -5; }},
      {"property.bedrooms", [](PropertyRecord& l) { l.bedrooms = -1; }},
      {"property.year_built", [](PropertyRecord& l) { l.year_built = 99; }},
      {"property.description", [](PropertyRecord& l) { l.description = "bell\a"; }},
      {"property.agent_id", [](PropertyRecord& l) { l.agent_id = -3; }},
      {"property.list_date", [](PropertyRecord& l) { l.list_date = "2026-02-30"; }},
      {"property.on_market_date", [](PropertyRecord& l) { l.on_market_date = "2026-1-5"; }},
      {"property.close_date", [](PropertyRecord& l) { l.close_date = "yesterday"; }},
      {"property.originating_system_name", [](PropertyRecord& l) { l.listing_key = "k1"; }},
      {"property.listing_key", [](PropertyRecord& l) { l.originating_system_name = "CRMLS"; }},
      {"property.longitude", [](PropertyRecord& l) { l.latitude = 41.0; }},
      {"property.latitude", [](PropertyRecord& l) { l.longitude = -89.0; }},
      {"property.latitude",
       [](PropertyRecord& l) {
         l.latitude = 90.5;
         l.longitude = 0;
       }},
      {"property.longitude",
       [](PropertyRecord& l) {
         l.latitude = 0;
         l.longitude = -180.01;
       }},
  };
  for (const Case& c : cases) {
    PropertyRecord l = Valid();
    c.spoil(l);
    EXPECT_EQ(FieldOf(l), c.field);
  }
  PropertyRecord edges = Valid();
  edges.latitude = -90;
  edges.longitude = 180;
  edges.list_date = "2024-02-29";
  edges.price_cents = kMaxPriceCents;
  edges.listing_key = "3yd-CRMLS-ML81234567";
  edges.originating_system_name = "CRMLS";
  EXPECT_EQ(FieldOf(edges), "");
}

TEST(PropertyFieldsTest, NormalizeTrimsAndDefaultsTheCountry) {
  PropertyRecord l = Valid();
  l.address.street = "  12 Maple St ";
  l.address.country = "";
  l.address.city = "Springfield\t";
  Normalize(l);
  EXPECT_EQ(l.address.street, "12 Maple St");
  EXPECT_EQ(l.address.city, "Springfield");
  EXPECT_EQ(l.address.country, "US");
  l.address.unit = "4B";
  EXPECT_EQ(OneLineAddress(l.address), "12 Maple St Unit 4B, Springfield, IL 62701");
  l.address.country = "CA";
  l.address.unit = "#7";
  EXPECT_EQ(OneLineAddress(l.address), "12 Maple St #7, Springfield, IL 62701, CA");
}

TEST(PropertyFieldsTest, UpdateMaskPathsCopyOnlyTheirFields) {
  const PropertyRecord from = [] {
    PropertyRecord l = Valid();
    l.address.city = "Shelbyville";
    l.price_cents = 1;
    l.description = "new";
    return l;
  }();
  PropertyRecord to = Valid();
  to.description = "old";
  ASSERT_TRUE(ApplyPaths({"address.city", "price_cents"}, from, to).ok());
  EXPECT_EQ(to.address.city, "Shelbyville");
  EXPECT_EQ(to.price_cents, 1);
  EXPECT_EQ(to.description, "old");
  EXPECT_FALSE(ApplyPaths({"version"}, from, to).ok());
  EXPECT_FALSE(ApplyPaths({"status_change_timestamp"}, from, to).ok());
  EXPECT_FALSE(ApplyPaths({}, from, to).ok());
  EXPECT_TRUE(ClientMaySee("COMING_SOON"));
  EXPECT_FALSE(ClientMaySee("CLOSED"));
}

}  // namespace
}  // namespace crm::properties
