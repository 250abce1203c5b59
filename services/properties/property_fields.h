#pragma once

// Input rules for listings, without gRPC or the database: a whole
// PropertyRecord is checked at once (a create, an import row, or a stored
// listing after an update mask was applied), so every invariant that spans
// fields (a listing key needs its MLS, coordinates come in pairs) holds for
// whatever path wrote it. Errors are crm::InvalidArgumentError naming the
// field under `prefix` ("property.address.city", "properties[12].mls_id").

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/properties/property_record.h"

namespace crm::properties {

inline constexpr size_t kMaxMlsIdBytes = 50;
inline constexpr size_t kMaxListingKeyBytes = 255;
inline constexpr size_t kMaxDescriptionBytes = 16000;
// NUMERIC(14,2): 999 999 999 999.99 dollars.
inline constexpr int64_t kMaxPriceCents = 99'999'999'999'999;

// The statuses a CLIENT may see: on the market or about to be.
const std::vector<std::string>& ClientVisibleStatuses();
bool ClientMaySee(absl::string_view status);

// Trims the one-line fields (the address parts, the MLS status) and fills
// defaults (country "US"), as the listing will be stored.
void Normalize(PropertyRecord& listing);

// OK, or the first field that is wrong. `status` must be a stored name
// (the service resolves UNSPECIFIED before).
absl::Status CheckListing(const PropertyRecord& listing, absl::string_view prefix);

// "YYYY-MM-DD" of a real calendar day, or "".
absl::Status CheckDate(absl::string_view date, absl::string_view field);

// Whether two listings hold the same facts: every field a person or a feed
// sets, the change timestamps included; not id, version or the row's own
// times. An import row equal to its stored listing writes nothing.
bool SameListing(const PropertyRecord& a, const PropertyRecord& b);

// Copies the fields an update mask names from `from` into `to`: "mls_id",
// "address" or "address.<part>", "price_cents", "status", ... (the
// Property message's settable fields; UpdatePropertyRequest lists them).
// INVALID_ARGUMENT on "update_mask" for an unknown or output-only path.
absl::Status ApplyPaths(const std::vector<std::string>& paths, const PropertyRecord& from,
                        PropertyRecord& to);

}  // namespace crm::properties
