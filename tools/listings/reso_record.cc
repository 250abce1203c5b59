#include "tools/listings/reso_record.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"

namespace crm::listings {
namespace {

namespace pv1 = properties::v1;
using json = nlohmann::json;

// Lower case without spaces, '_' or '-': "Active Under Contract" and
// "ActiveUnderContract" compare equal.
std::string Folded(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c != ' ' && c != '_' && c != '-') {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  return out;
}

const json* Field(const json& record, const char* name) {
  auto it = record.find(name);
  if (it == record.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

// A value as text: strings as they are, numbers as written (the reader keeps
// decimals' text). Booleans, arrays and objects are refused: no field read
// here means anything by them.
absl::StatusOr<std::string> Text(const json& record, const char* name) {
  const json* v = Field(record, name);
  if (v == nullptr) {
    return std::string();
  }
  if (v->is_string()) {
    return v->get<std::string>();
  }
  if (v->is_number_integer() || v->is_number_unsigned()) {
    return v->dump();
  }
  if (v->is_number_float()) {
    return v->dump();  // only when a caller parsed the record itself
  }
  return InvalidArgumentError(name, "must be a string or a number");
}

absl::StatusOr<int64_t> Integer(const json& record, const char* name) {
  absl::StatusOr<std::string> text = Text(record, name);
  if (!text.ok() || text->empty()) {
    return text.ok() ? absl::StatusOr<int64_t>(0) : text.status();
  }
  // RESO sends some counts as decimals (LivingArea 1850.00).
  absl::string_view digits = *text;
  if (size_t dot = digits.find('.'); dot != absl::string_view::npos) {
    absl::string_view fraction = digits.substr(dot + 1);
    if (!fraction.empty() && fraction.find_first_not_of('0') == absl::string_view::npos) {
      digits = digits.substr(0, dot);
    } else if (fraction.empty()) {
      digits = digits.substr(0, dot);
    } else {
      double value = 0;
      if (!absl::SimpleAtod(*text, &value)) {
        return InvalidArgumentError(name, "must be a number");
      }
      // Converting a double int64 cannot hold is undefined; 2^63 itself is
      // just past the top.
      const double rounded = std::round(value);
      if (!std::isfinite(rounded) ||
          rounded < static_cast<double>(std::numeric_limits<int64_t>::min()) ||
          rounded >= -static_cast<double>(std::numeric_limits<int64_t>::min())) {
        return InvalidArgumentError(name, "is out of range");
      }
      return static_cast<int64_t>(rounded);
    }
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value)) {
    return InvalidArgumentError(name, "must be a whole number");
  }
  return value;
}

absl::StatusOr<std::optional<double>> Degrees(const json& record, const char* name) {
  absl::StatusOr<std::string> text = Text(record, name);
  if (!text.ok()) {
    return text.status();
  }
  if (text->empty()) {
    return std::nullopt;
  }
  double value = 0;
  if (!absl::SimpleAtod(*text, &value)) {
    return InvalidArgumentError(name, "must be a number of degrees");
  }
  return value;
}

// RESO dates are "YYYY-MM-DD"; a timestamp's date part is accepted.
absl::StatusOr<std::string> Date(const json& record, const char* name) {
  absl::StatusOr<std::string> text = Text(record, name);
  if (!text.ok() || text->size() <= 10) {
    return text;
  }
  return text->substr(0, 10);
}

absl::Status Timestamp(const json& record, const char* name, google::protobuf::Timestamp* out,
                       bool* set) {
  *set = false;
  absl::StatusOr<std::string> text = Text(record, name);
  if (!text.ok()) {
    return text.status();
  }
  if (text->empty()) {
    return absl::OkStatus();
  }
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, *text, &t, &error)) {
    return InvalidArgumentError(name, "must be an RFC 3339 timestamp like 2026-11-30T14:05:00Z");
  }
  timestamp::ToProto(t, out);
  *set = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> CentsFromDecimal(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  const bool negative = absl::ConsumePrefix(&s, "-");
  absl::string_view whole = s, fraction;
  if (size_t dot = s.find('.'); dot != absl::string_view::npos) {
    whole = s.substr(0, dot);
    fraction = s.substr(dot + 1);
  }
  // Trailing zeros past the cents do not change the value (525000.000).
  while (fraction.size() > 2 && fraction.back() == '0') {
    fraction.remove_suffix(1);
  }
  if (whole.empty() || fraction.size() > 2 ||
      whole.find_first_not_of("0123456789") != absl::string_view::npos ||
      fraction.find_first_not_of("0123456789") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "must be a decimal number of dollars with at most 2 decimals");
  }
  int64_t dollars = 0;
  if (!absl::SimpleAtoi(whole, &dollars) ||
      dollars > std::numeric_limits<int64_t>::max() / 100 - 1) {
    return absl::InvalidArgumentError("is too large");
  }
  int64_t cents = 0;
  if (!fraction.empty()) {
    absl::SimpleAtoi(fraction, &cents);
    if (fraction.size() == 1) {
      cents *= 10;
    }
  }
  const int64_t total = dollars * 100 + cents;
  return negative ? -total : total;
}

pv1::PropertyStatus StatusFromReso(absl::string_view value) {
  static const auto* const statuses = new std::vector<std::pair<std::string, pv1::PropertyStatus>>{
      {"active", pv1::PROPERTY_STATUS_ACTIVE},
      {"activeundercontract", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT},
      {"comingsoon", pv1::PROPERTY_STATUS_COMING_SOON},
      {"pending", pv1::PROPERTY_STATUS_PENDING},
      {"closed", pv1::PROPERTY_STATUS_CLOSED},
      {"canceled", pv1::PROPERTY_STATUS_CANCELED},
      {"cancelled", pv1::PROPERTY_STATUS_CANCELED},
      {"expired", pv1::PROPERTY_STATUS_EXPIRED},
      {"withdrawn", pv1::PROPERTY_STATUS_WITHDRAWN},
      {"hold", pv1::PROPERTY_STATUS_HOLD},
      {"incomplete", pv1::PROPERTY_STATUS_INCOMPLETE},
  };
  const std::string folded = Folded(value);
  for (const auto& [name, status] : *statuses) {
    if (folded == name) {
      return status;
    }
  }
  return pv1::PROPERTY_STATUS_UNSPECIFIED;
}

pv1::PropertyType TypeFromReso(absl::string_view value) {
  static const auto* const types = new std::vector<std::pair<std::string, pv1::PropertyType>>{
      {"residential", pv1::PROPERTY_TYPE_RESIDENTIAL},
      {"residentialincome", pv1::PROPERTY_TYPE_RESIDENTIAL_INCOME},
      {"residentiallease", pv1::PROPERTY_TYPE_RESIDENTIAL_LEASE},
      {"land", pv1::PROPERTY_TYPE_LAND},
      {"farm", pv1::PROPERTY_TYPE_FARM},
      {"commercialsale", pv1::PROPERTY_TYPE_COMMERCIAL_SALE},
      {"commerciallease", pv1::PROPERTY_TYPE_COMMERCIAL_LEASE},
      {"businessopportunity", pv1::PROPERTY_TYPE_BUSINESS_OPPORTUNITY},
      {"manufacturedinpark", pv1::PROPERTY_TYPE_MANUFACTURED_IN_PARK},
  };
  const std::string folded = Folded(value);
  for (const auto& [name, type] : *types) {
    if (folded == name) {
      return type;
    }
  }
  return pv1::PROPERTY_TYPE_UNSPECIFIED;
}

absl::StatusOr<pv1::Property> FromReso(const json& record) {
  if (!record.is_object()) {
    return absl::InvalidArgumentError("a record must be a JSON object");
  }
  pv1::Property p;
  // Text fields, each a string (or a number written as one).
  struct TextField {
    const char* reso;
    std::string* (pv1::Property::*out)();
  };
  for (const TextField& f :
       {TextField{"ListingId", &pv1::Property::mutable_mls_id},
        TextField{"ListingKey", &pv1::Property::mutable_listing_key},
        TextField{"OriginatingSystemName", &pv1::Property::mutable_originating_system_name},
        TextField{"MlsStatus", &pv1::Property::mutable_mls_status},
        TextField{"PublicRemarks", &pv1::Property::mutable_description}}) {
    absl::StatusOr<std::string> text = Text(record, f.reso);
    if (!text.ok()) {
      return text.status();
    }
    *(p.*f.out)() = *std::move(text);
  }
  if (p.mls_id().empty()) {
    return InvalidArgumentError("ListingId", "is required (the MLS number)");
  }
  absl::StatusOr<std::string> status = Text(record, "StandardStatus");
  if (!status.ok()) {
    return status.status();
  }
  if (!status->empty()) {
    p.set_status(StatusFromReso(*status));
    if (p.status() == pv1::PROPERTY_STATUS_UNSPECIFIED) {
      return InvalidArgumentError(
          "StandardStatus",
          absl::StrCat("\"", *status,
                       "\" is not a StandardStatus this import takes (Active, Active Under "
                       "Contract, Coming Soon, Pending, Closed, Canceled, Expired, Withdrawn, "
                       "Hold, Incomplete)"));
    }
  }
  absl::StatusOr<std::string> type = Text(record, "PropertyType");
  if (!type.ok()) {
    return type.status();
  }
  if (!type->empty()) {
    p.set_property_type(TypeFromReso(*type));
    if (p.property_type() == pv1::PROPERTY_TYPE_UNSPECIFIED) {
      return InvalidArgumentError("PropertyType",
                                  absl::StrCat("\"", *type, "\" is not a RESO PropertyType"));
    }
  }
  for (auto [reso, setter] : {std::pair{"ListPrice", &pv1::Property::set_price_cents},
                              std::pair{"ClosePrice", &pv1::Property::set_close_price_cents}}) {
    absl::StatusOr<std::string> text = Text(record, reso);
    if (!text.ok()) {
      return text.status();
    }
    if (!text->empty()) {
      absl::StatusOr<int64_t> cents = CentsFromDecimal(*text);
      if (!cents.ok()) {
        return InvalidArgumentError(reso, cents.status().message());
      }
      (p.*setter)(*cents);
    }
  }
  // The street: UnparsedAddress's first part, or the structured parts.
  absl::StatusOr<std::string> unparsed = Text(record, "UnparsedAddress");
  if (!unparsed.ok()) {
    return unparsed.status();
  }
  std::string street = std::string(
      absl::StripAsciiWhitespace(absl::string_view(*unparsed).substr(0, unparsed->find(','))));
  if (street.empty()) {
    std::vector<std::string> parts;
    for (const char* name :
         {"StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix", "StreetDirSuffix"}) {
      absl::StatusOr<std::string> part = Text(record, name);
      if (!part.ok()) {
        return part.status();
      }
      if (!part->empty()) {
        parts.push_back(*std::move(part));
      }
    }
    street = absl::StrJoin(parts, " ");
  }
  pv1::Address* address = p.mutable_address();
  address->set_street(street);
  for (auto [reso, out] : {std::pair{"UnitNumber", address->mutable_unit()},
                           std::pair{"City", address->mutable_city()},
                           std::pair{"StateOrProvince", address->mutable_state_or_province()},
                           std::pair{"PostalCode", address->mutable_postal_code()}}) {
    absl::StatusOr<std::string> text = Text(record, reso);
    if (!text.ok()) {
      return text.status();
    }
    *out = *std::move(text);
  }
  // RESO Country is ISO 3166-1 alpha-2 ("US", "CA").
  absl::StatusOr<std::string> country = Text(record, "Country");
  if (!country.ok()) {
    return country.status();
  }
  address->set_country(*country);
  struct Count {
    const char* reso;
    void (pv1::Property::*set32)(int32_t);
  };
  for (const Count& c :
       {Count{"BedroomsTotal", &pv1::Property::set_bedrooms},
        Count{"BathroomsFull", &pv1::Property::set_bathrooms_full},
        Count{"BathroomsHalf", &pv1::Property::set_bathrooms_half},
        Count{"BathroomsTotalInteger", &pv1::Property::set_bathrooms_total_integer},
        Count{"LivingArea", &pv1::Property::set_living_area_sqft},
        Count{"YearBuilt", &pv1::Property::set_year_built}}) {
    absl::StatusOr<int64_t> n = Integer(record, c.reso);
    if (!n.ok()) {
      return n.status();
    }
    if (*n < std::numeric_limits<int32_t>::min() || *n > std::numeric_limits<int32_t>::max()) {
      return InvalidArgumentError(c.reso, "is out of range");
    }
    (p.*c.set32)(static_cast<int32_t>(*n));
  }
  absl::StatusOr<int64_t> lot = Integer(record, "LotSizeSquareFeet");
  if (!lot.ok()) {
    return lot.status();
  }
  p.set_lot_size_sqft(*lot);
  for (auto [reso, out] : {std::pair{"ListingContractDate", p.mutable_list_date()},
                           std::pair{"OnMarketDate", p.mutable_on_market_date()},
                           std::pair{"CloseDate", p.mutable_close_date()}}) {
    absl::StatusOr<std::string> date = Date(record, reso);
    if (!date.ok()) {
      return date.status();
    }
    *out = *std::move(date);
  }
  absl::StatusOr<std::optional<double>> latitude = Degrees(record, "Latitude");
  if (!latitude.ok()) {
    return latitude.status();
  }
  absl::StatusOr<std::optional<double>> longitude = Degrees(record, "Longitude");
  if (!longitude.ok()) {
    return longitude.status();
  }
  if (latitude->has_value()) {
    p.set_latitude(**latitude);
  }
  if (longitude->has_value()) {
    p.set_longitude(**longitude);
  }
  bool set = false;
  if (absl::Status s =
          Timestamp(record, "ModificationTimestamp", p.mutable_modification_timestamp(), &set);
      !s.ok()) {
    return s;
  }
  if (!set) {
    p.clear_modification_timestamp();
  }
  if (absl::Status s =
          Timestamp(record, "StatusChangeTimestamp", p.mutable_status_change_timestamp(), &set);
      !s.ok()) {
    return s;
  }
  if (!set) {
    p.clear_status_change_timestamp();
  }
  if (absl::Status s =
          Timestamp(record, "PriceChangeTimestamp", p.mutable_price_change_timestamp(), &set);
      !s.ok()) {
    return s;
  }
  if (!set) {
    p.clear_price_change_timestamp();
  }
  return p;
}

}  // namespace crm::listings
