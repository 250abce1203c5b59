#pragma once

// A RESO Data Dictionary Property record (as an MLS's RESO Web API returns
// it: {"ListingKey": ..., "StandardStatus": "Active Under Contract",
// "ListPrice": 525000.00, ...}) as a crm.properties.v1.Property. Decimal
// values are read from their text, so a price is exact to the cent;
// StandardStatus and PropertyType accept the Data Dictionary's display
// values ("Active Under Contract") and their Web API forms
// ("ActiveUnderContract"). Optional fields missing or null stay unset.
//
// Fields read: ListingKey, ListingId, OriginatingSystemName, StandardStatus,
// MlsStatus, PropertyType, ListPrice, ClosePrice, UnparsedAddress (or
// StreetNumber, StreetDirPrefix, StreetName, StreetSuffix, StreetDirSuffix),
// UnitNumber, City, StateOrProvince, PostalCode, Country, BedroomsTotal,
// BathroomsFull, BathroomsHalf, BathroomsTotalInteger, LivingArea,
// LotSizeSquareFeet, YearBuilt, PublicRemarks, ListingContractDate,
// OnMarketDate, CloseDate, Latitude, Longitude, ModificationTimestamp,
// StatusChangeTimestamp, PriceChangeTimestamp. Others are ignored.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/properties/v1/property.pb.h"
#include "nlohmann/json.hpp"

namespace crm::listings {

// INVALID_ARGUMENT naming the RESO field ("ListPrice: must be a decimal
// number of dollars ...") when a value cannot be mapped. What the service
// checks (lengths, ranges) it leaves to the service.
absl::StatusOr<properties::v1::Property> FromReso(const nlohmann::json& record);

// "Active Under Contract", "ActiveUnderContract", "active under contract" →
// PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT; UNSPECIFIED when unknown.
properties::v1::PropertyStatus StatusFromReso(absl::string_view value);
properties::v1::PropertyType TypeFromReso(absl::string_view value);

// "525000", "525000.5", "525000.01", 525000 (as text) → cents; none for
// more than two decimals, signs other than a leading '-', exponents, or
// values past int64.
absl::StatusOr<int64_t> CentsFromDecimal(absl::string_view text);

}  // namespace crm::listings
