#pragma once

// A listing as the properties service keeps it, between its repository
// (SQL) and its gRPC layer (proto). Statuses and property types are stored
// as the proto's value names without prefix ("ACTIVE", "RESIDENTIAL"), like
// the seed's default; money in integer cents; calendar dates as
// "YYYY-MM-DD" ("" unknown).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace crm::properties {

struct PropertyAddress {
  std::string street = {};
  std::string unit = {};
  std::string city = {};
  std::string state_or_province = {};
  std::string postal_code = {};
  std::string country = {};  // ISO 3166-1 alpha-2; "" is stored as "US"

  bool operator==(const PropertyAddress&) const = default;
};

struct PropertyRecord {
  int64_t id = 0;
  std::string mls_id = {};
  PropertyAddress address = {};
  int64_t price_cents = 0;
  std::string status = {};         // "ACTIVE", ...
  std::string property_type = {};  // "" unknown
  int32_t bedrooms = 0;
  int32_t bathrooms_full = 0;
  int32_t bathrooms_half = 0;
  int32_t bathrooms_total_integer = 0;
  int32_t living_area_sqft = 0;
  int64_t lot_size_sqft = 0;
  int32_t year_built = 0;
  std::string description = {};
  int64_t agent_id = 0;  // 0: none
  std::string list_date = {};
  std::string listing_key = {};
  std::string originating_system_name = {};
  std::optional<double> latitude = {};
  std::optional<double> longitude = {};
  std::string mls_status = {};
  std::optional<absl::Time> modification_timestamp = {};
  std::optional<absl::Time> status_change_timestamp = {};
  std::optional<absl::Time> price_change_timestamp = {};
  std::string on_market_date = {};
  int64_t close_price_cents = 0;
  std::string close_date = {};
  int64_t version = 0;
  absl::Time created_at = {};
  absl::Time updated_at = {};
};

// The one-line address the seed's `address` column holds:
// "12 Main St Apt 4, Springfield, IL 62701".
std::string OneLineAddress(const PropertyAddress& address);

}  // namespace crm::properties
