#pragma once

// PropertyRecord ⇄ crm.properties.v1 messages, and statuses and property
// types ⇄ their stored names.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/db/row_encoder.h"
#include "crm/properties/v1/property.pb.h"
#include "services/properties/property_record.h"

namespace crm::properties {

void ToProto(const PropertyRecord& listing, v1::Property* out);
// The same, moving the record's strings into the message.
void ToProto(PropertyRecord&& listing, v1::Property* out);

// A listing row (the repository's columns, as PropertyRepository::ListAsync
// hands them over) straight to a v1::Property's bytes: the message ToProto
// makes of the row's record, without the record.
const db::RowEncoder& PropertyRowEncoder();

// The listing a request carries, as given (not trimmed, not checked beyond
// what a record cannot hold: enum values the proto does not define and
// timestamps out of range are INVALID_ARGUMENT naming the field under
// `prefix`). id, version, create_time and update_time are ignored; the
// change timestamps are read (an import's), and CreateProperty drops them;
// status UNSPECIFIED becomes "" for the caller to resolve.
absl::StatusOr<PropertyRecord> FromProto(const v1::Property& in, absl::string_view prefix);

// "ACTIVE" for PROPERTY_STATUS_ACTIVE; "" for UNSPECIFIED or unknown values.
std::string StatusName(v1::PropertyStatus status);
v1::PropertyStatus StatusFromName(absl::string_view name);
// "RESIDENTIAL" for PROPERTY_TYPE_RESIDENTIAL; "" for UNSPECIFIED or unknown.
std::string TypeName(v1::PropertyType type);
v1::PropertyType TypeFromName(absl::string_view name);

}  // namespace crm::properties
