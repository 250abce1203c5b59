#include "services/properties/property_proto.h"

#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fields/text_checks.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"

namespace crm::properties {
namespace {

// Name ⇄ value tables of a proto enum, prefix stripped ("PROPERTY_STATUS_").
template <typename Enum>
class EnumNames {
 public:
  EnumNames(const google::protobuf::EnumDescriptor* descriptor, absl::string_view prefix) {
    for (int i = 0; i < descriptor->value_count(); ++i) {
      const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
      if (value->number() == 0) {
        continue;
      }
      std::string name(absl::StripPrefix(value->name(), prefix));
      by_value_.emplace(value->number(), name);
      by_name_.emplace(std::move(name), static_cast<Enum>(value->number()));
    }
  }
  std::string Name(int value) const {
    auto it = by_value_.find(value);
    return it == by_value_.end() ? "" : it->second;
  }
  Enum Value(absl::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? static_cast<Enum>(0) : it->second;
  }

 private:
  absl::flat_hash_map<int, std::string> by_value_;
  absl::flat_hash_map<std::string, Enum> by_name_;
};

const EnumNames<v1::PropertyStatus>& Statuses() {
  static const auto* const names =
      new EnumNames<v1::PropertyStatus>(v1::PropertyStatus_descriptor(), "PROPERTY_STATUS_");
  return *names;
}

const EnumNames<v1::PropertyType>& Types() {
  static const auto* const names =
      new EnumNames<v1::PropertyType>(v1::PropertyType_descriptor(), "PROPERTY_TYPE_");
  return *names;
}

// One body for both overloads: `Record` is const PropertyRecord& (copies) or
// PropertyRecord (moves each string into the message).
template <typename Record>
void Fill(Record&& l, v1::Property* out) {
  out->Clear();
  out->set_id(l.id);
  out->set_mls_id(std::forward<Record>(l).mls_id);
  v1::Address* address = out->mutable_address();
  address->set_street(std::forward<Record>(l).address.street);
  address->set_unit(std::forward<Record>(l).address.unit);
  address->set_city(std::forward<Record>(l).address.city);
  address->set_state_or_province(std::forward<Record>(l).address.state_or_province);
  address->set_postal_code(std::forward<Record>(l).address.postal_code);
  address->set_country(std::forward<Record>(l).address.country);
  out->set_price_cents(l.price_cents);
  out->set_status(StatusFromName(l.status));
  out->set_property_type(TypeFromName(l.property_type));
  out->set_bedrooms(l.bedrooms);
  out->set_bathrooms_full(l.bathrooms_full);
  out->set_bathrooms_half(l.bathrooms_half);
  out->set_bathrooms_total_integer(l.bathrooms_total_integer);
  out->set_living_area_sqft(l.living_area_sqft);
  out->set_lot_size_sqft(l.lot_size_sqft);
  out->set_year_built(l.year_built);
  out->set_description(std::forward<Record>(l).description);
  out->set_agent_id(l.agent_id);
  out->set_list_date(std::forward<Record>(l).list_date);
  out->set_listing_key(std::forward<Record>(l).listing_key);
  out->set_originating_system_name(std::forward<Record>(l).originating_system_name);
  if (l.latitude.has_value() && l.longitude.has_value()) {
    out->set_latitude(*l.latitude);
    out->set_longitude(*l.longitude);
  }
  out->set_mls_status(std::forward<Record>(l).mls_status);
  if (l.modification_timestamp.has_value()) {
    timestamp::ToProto(*l.modification_timestamp, out->mutable_modification_timestamp());
  }
  if (l.status_change_timestamp.has_value()) {
    timestamp::ToProto(*l.status_change_timestamp, out->mutable_status_change_timestamp());
  }
  if (l.price_change_timestamp.has_value()) {
    timestamp::ToProto(*l.price_change_timestamp, out->mutable_price_change_timestamp());
  }
  out->set_on_market_date(std::forward<Record>(l).on_market_date);
  out->set_close_price_cents(l.close_price_cents);
  out->set_close_date(std::forward<Record>(l).close_date);
  out->set_version(l.version);
  timestamp::ToProto(l.created_at, out->mutable_create_time());
  timestamp::ToProto(l.updated_at, out->mutable_update_time());
}

}  // namespace

std::string StatusName(v1::PropertyStatus status) { return Statuses().Name(status); }
v1::PropertyStatus StatusFromName(absl::string_view name) { return Statuses().Value(name); }
std::string TypeName(v1::PropertyType type) { return Types().Name(type); }
v1::PropertyType TypeFromName(absl::string_view name) { return Types().Value(name); }

void ToProto(const PropertyRecord& listing, v1::Property* out) { Fill(listing, out); }

const db::RowEncoder& PropertyRowEncoder() {
  static const auto* const encoder =
      new db::RowEncoder(v1::Property::descriptor(),
                         {// The seed's one-line address; the message has the structured one.
                          {"address", ""},
                          {"street", "address.street"},
                          {"unit", "address.unit"},
                          {"city", "address.city"},
                          {"state_or_province", "address.state_or_province"},
                          {"postal_code", "address.postal_code"},
                          {"country", "address.country"},
                          {"created_at", "create_time"},
                          {"updated_at", "update_time"}});
  return *encoder;
}
void ToProto(PropertyRecord&& listing, v1::Property* out) { Fill(std::move(listing), out); }

absl::StatusOr<PropertyRecord> FromProto(const v1::Property& in, absl::string_view prefix) {
  PropertyRecord l;
  l.mls_id = in.mls_id();
  l.address = {.street = in.address().street(),
               .unit = in.address().unit(),
               .city = in.address().city(),
               .state_or_province = in.address().state_or_province(),
               .postal_code = in.address().postal_code(),
               .country = in.address().country()};
  l.price_cents = in.price_cents();
  if (in.status() != v1::PROPERTY_STATUS_UNSPECIFIED) {
    l.status = StatusName(in.status());
    if (l.status.empty()) {
      return InvalidArgumentError(fields::FieldPath(prefix, "status"),
                                  "must be a PropertyStatus value");
    }
  }
  if (in.property_type() != v1::PROPERTY_TYPE_UNSPECIFIED) {
    l.property_type = TypeName(in.property_type());
    if (l.property_type.empty()) {
      return InvalidArgumentError(fields::FieldPath(prefix, "property_type"),
                                  "must be a PropertyType value");
    }
  }
  l.bedrooms = in.bedrooms();
  l.bathrooms_full = in.bathrooms_full();
  l.bathrooms_half = in.bathrooms_half();
  l.bathrooms_total_integer = in.bathrooms_total_integer();
  l.living_area_sqft = in.living_area_sqft();
  l.lot_size_sqft = in.lot_size_sqft();
  l.year_built = in.year_built();
  l.description = in.description();
  l.agent_id = in.agent_id();
  l.list_date = in.list_date();
  l.listing_key = in.listing_key();
  l.originating_system_name = in.originating_system_name();
  if (in.has_latitude()) {
    l.latitude = in.latitude();
  }
  if (in.has_longitude()) {
    l.longitude = in.longitude();
  }
  l.mls_status = in.mls_status();
  if (in.has_modification_timestamp()) {
    absl::StatusOr<absl::Time> t = timestamp::FromProto(
        in.modification_timestamp(), fields::FieldPath(prefix, "modification_timestamp"));
    if (!t.ok()) {
      return t.status();
    }
    l.modification_timestamp = *t;
  }
  // Output only for CreateProperty and UpdateProperty (they stamp them);
  // an import may carry the MLS's own.
  for (auto [has, ts, name, out] :
       {std::tuple{in.has_status_change_timestamp(), &in.status_change_timestamp(),
                   "status_change_timestamp", &l.status_change_timestamp},
        std::tuple{in.has_price_change_timestamp(), &in.price_change_timestamp(),
                   "price_change_timestamp", &l.price_change_timestamp}}) {
    if (has) {
      absl::StatusOr<absl::Time> t = timestamp::FromProto(*ts, fields::FieldPath(prefix, name));
      if (!t.ok()) {
        return t.status();
      }
      *out = *t;
    }
  }
  l.on_market_date = in.on_market_date();
  l.close_price_cents = in.close_price_cents();
  l.close_date = in.close_date();
  return l;
}

}  // namespace crm::properties
