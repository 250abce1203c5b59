#include "services/properties/property_fields.h"

#include <cmath>
#include <functional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/fields/text_checks.h"
#include "common/status/grpc_status.h"

namespace crm::properties {
namespace {

absl::Status CheckCount(int64_t value, int64_t max, absl::string_view field) {
  if (value < 0 || value > max) {
    return InvalidArgumentError(field, absl::StrCat("must be between 0 and ", max));
  }
  return absl::OkStatus();
}

absl::Status CheckCents(int64_t cents, absl::string_view field) {
  if (cents < 0 || cents > kMaxPriceCents) {
    return InvalidArgumentError(field,
                                absl::StrCat("must be between 0 and ", kMaxPriceCents, " cents"));
  }
  return absl::OkStatus();
}

using Copy = std::function<void(const PropertyRecord&, PropertyRecord&)>;

#define CRM_COPY(member) [](const PropertyRecord& f, PropertyRecord& t) { t.member = f.member; }

const absl::flat_hash_map<std::string, Copy>& Copies() {
  static const auto* const copies = new absl::flat_hash_map<std::string, Copy>{
      {"mls_id", CRM_COPY(mls_id)},
      {"address", CRM_COPY(address)},
      {"address.street", CRM_COPY(address.street)},
      {"address.unit", CRM_COPY(address.unit)},
      {"address.city", CRM_COPY(address.city)},
      {"address.state_or_province", CRM_COPY(address.state_or_province)},
      {"address.postal_code", CRM_COPY(address.postal_code)},
      {"address.country", CRM_COPY(address.country)},
      {"price_cents", CRM_COPY(price_cents)},
      {"status", CRM_COPY(status)},
      {"property_type", CRM_COPY(property_type)},
      {"bedrooms", CRM_COPY(bedrooms)},
      {"bathrooms_full", CRM_COPY(bathrooms_full)},
      {"bathrooms_half", CRM_COPY(bathrooms_half)},
      {"bathrooms_total_integer", CRM_COPY(bathrooms_total_integer)},
      {"living_area_sqft", CRM_COPY(living_area_sqft)},
      {"lot_size_sqft", CRM_COPY(lot_size_sqft)},
      {"year_built", CRM_COPY(year_built)},
      {"description", CRM_COPY(description)},
      {"agent_id", CRM_COPY(agent_id)},
      {"list_date", CRM_COPY(list_date)},
      {"listing_key", CRM_COPY(listing_key)},
      {"originating_system_name", CRM_COPY(originating_system_name)},
      {"latitude", CRM_COPY(latitude)},
      {"longitude", CRM_COPY(longitude)},
      {"mls_status", CRM_COPY(mls_status)},
      {"modification_timestamp", CRM_COPY(modification_timestamp)},
      {"on_market_date", CRM_COPY(on_market_date)},
      {"close_price_cents", CRM_COPY(close_price_cents)},
      {"close_date", CRM_COPY(close_date)},
  };
  return *copies;
}

#undef CRM_COPY

std::string Trim(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

}  // namespace

const std::vector<std::string>& ClientVisibleStatuses() {
  static const auto* const statuses =
      new std::vector<std::string>{"ACTIVE", "ACTIVE_UNDER_CONTRACT", "COMING_SOON"};
  return *statuses;
}

bool ClientMaySee(absl::string_view status) {
  for (const std::string& visible : ClientVisibleStatuses()) {
    if (status == visible) {
      return true;
    }
  }
  return false;
}

std::string OneLineAddress(const PropertyAddress& a) {
  std::string line = a.street;
  if (!a.unit.empty()) {
    absl::StrAppend(&line, absl::StartsWith(a.unit, "#") ? " " : " Unit ", a.unit);
  }
  absl::StrAppend(&line, ", ", a.city);
  std::string region = a.state_or_province;
  if (!a.postal_code.empty()) {
    absl::StrAppend(&region, region.empty() ? "" : " ", a.postal_code);
  }
  if (!region.empty()) {
    absl::StrAppend(&line, ", ", region);
  }
  if (!a.country.empty() && a.country != "US") {
    absl::StrAppend(&line, ", ", a.country);
  }
  return line;
}

void Normalize(PropertyRecord& l) {
  l.address.street = Trim(l.address.street);
  l.address.unit = Trim(l.address.unit);
  l.address.city = Trim(l.address.city);
  l.address.state_or_province = Trim(l.address.state_or_province);
  l.address.postal_code = Trim(l.address.postal_code);
  l.address.country = absl::AsciiStrToUpper(Trim(l.address.country));
  if (l.address.country.empty()) {
    l.address.country = "US";
  }
  l.mls_status = Trim(l.mls_status);
}

absl::Status CheckDate(absl::string_view date, absl::string_view field) {
  if (date.empty()) {
    return absl::OkStatus();
  }
  absl::CivilDay day;
  if (date.size() != 10 || !absl::ParseCivilTime(date, &day) ||
      absl::FormatCivilTime(day) != date || day.year() < 1800 || day.year() > 9999) {
    return InvalidArgumentError(field, "must be a calendar date YYYY-MM-DD (1800..9999), or empty");
  }
  return absl::OkStatus();
}

absl::Status CheckListing(const PropertyRecord& l, absl::string_view prefix) {
  const auto f = [prefix](absl::string_view name) { return fields::FieldPath(prefix, name); };
  std::vector<absl::Status> checks = {
      fields::CheckToken(l.mls_id, f("mls_id"), /*required=*/true, kMaxMlsIdBytes),
      fields::CheckLine(l.address.street, f("address.street"), true, 200),
      fields::CheckLine(l.address.unit, f("address.unit"), false, 40),
      fields::CheckLine(l.address.city, f("address.city"), true, 100),
      fields::CheckLine(l.address.state_or_province, f("address.state_or_province"), false, 50),
      fields::CheckLine(l.address.postal_code, f("address.postal_code"), false, 20),
  };
  for (absl::Status& s : checks) {
    if (!s.ok()) {
      return s;
    }
  }
  if (l.address.country.size() != 2 || !absl::ascii_isupper(l.address.country[0]) ||
      !absl::ascii_isupper(l.address.country[1])) {
    return InvalidArgumentError(f("address.country"),
                                "must be an ISO 3166-1 alpha-2 code such as \"US\", or empty");
  }
  if (absl::Status s = CheckCents(l.price_cents, f("price_cents")); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCents(l.close_price_cents, f("close_price_cents")); !s.ok()) {
    return s;
  }
  for (auto [value, max, name] :
       {std::tuple<int64_t, int64_t, const char*>{l.bedrooms, 1000, "bedrooms"},
        {l.bathrooms_full, 1000, "bathrooms_full"},
        {l.bathrooms_half, 1000, "bathrooms_half"},
        {l.bathrooms_total_integer, 1000, "bathrooms_total_integer"},
        {l.living_area_sqft, 100'000'000, "living_area_sqft"},
        {l.lot_size_sqft, 1'000'000'000'000, "lot_size_sqft"}}) {
    if (absl::Status s = CheckCount(value, max, f(name)); !s.ok()) {
      return s;
    }
  }
  if (l.year_built != 0 && (l.year_built < 1000 || l.year_built > 2200)) {
    return InvalidArgumentError(f("year_built"), "must be a year (1000..2200), or 0 for unknown");
  }
  if (absl::Status s = fields::CheckText(l.description, f("description"), kMaxDescriptionBytes);
      !s.ok()) {
    return s;
  }
  if (l.agent_id < 0) {
    return InvalidArgumentError(f("agent_id"), "must be a user id, or 0 for none");
  }
  for (auto [date, name] :
       {std::pair{&l.list_date, "list_date"}, std::pair{&l.on_market_date, "on_market_date"},
        std::pair{&l.close_date, "close_date"}}) {
    if (absl::Status s = CheckDate(*date, f(name)); !s.ok()) {
      return s;
    }
  }
  for (auto [value, name] : {std::pair{&l.listing_key, "listing_key"},
                             std::pair{&l.originating_system_name, "originating_system_name"}}) {
    if (absl::Status s = fields::CheckLine(*value, f(name), false, kMaxListingKeyBytes); !s.ok()) {
      return s;
    }
  }
  if (l.listing_key.empty() != l.originating_system_name.empty()) {
    return InvalidArgumentError(
        f(l.listing_key.empty() ? "listing_key" : "originating_system_name"),
        "listing_key and originating_system_name are set together (a ListingKey is unique "
        "only within its MLS)");
  }
  if (l.latitude.has_value() != l.longitude.has_value()) {
    return InvalidArgumentError(f(l.latitude.has_value() ? "longitude" : "latitude"),
                                "latitude and longitude are set together");
  }
  if (l.latitude.has_value() && (!std::isfinite(*l.latitude) || std::fabs(*l.latitude) > 90)) {
    return InvalidArgumentError(f("latitude"), "must be between -90 and 90 degrees");
  }
  if (l.longitude.has_value() && (!std::isfinite(*l.longitude) || std::fabs(*l.longitude) > 180)) {
    return InvalidArgumentError(f("longitude"), "must be between -180 and 180 degrees");
  }
  if (absl::Status s = fields::CheckLine(l.mls_status, f("mls_status"), false, 100); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

bool SameListing(const PropertyRecord& a, const PropertyRecord& b) {
  const auto facts = [](const PropertyRecord& l) {
    return std::tie(l.mls_id, l.address, l.price_cents, l.status, l.property_type, l.bedrooms,
                    l.bathrooms_full, l.bathrooms_half, l.bathrooms_total_integer,
                    l.living_area_sqft, l.lot_size_sqft, l.year_built, l.description, l.agent_id,
                    l.list_date, l.listing_key, l.originating_system_name, l.latitude, l.longitude,
                    l.mls_status, l.modification_timestamp, l.status_change_timestamp,
                    l.price_change_timestamp, l.on_market_date, l.close_price_cents, l.close_date);
  };
  return facts(a) == facts(b);
}

absl::Status ApplyPaths(const std::vector<std::string>& paths, const PropertyRecord& from,
                        PropertyRecord& to) {
  if (paths.empty()) {
    return InvalidArgumentError("update_mask", "must name at least one field");
  }
  for (const std::string& path : paths) {
    auto it = Copies().find(path);
    if (it == Copies().end()) {
      return InvalidArgumentError("update_mask",
                                  absl::StrCat("\"", absl::CHexEscape(path),
                                               "\" is not a field UpdateProperty can change"));
    }
    it->second(from, to);
  }
  return absl::OkStatus();
}

}  // namespace crm::properties
