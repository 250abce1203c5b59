#pragma once

// Proto ⇄ domain for the audit service, with the validation of what clients
// send: an event that fails it is acked REJECTED with the reason; a filter
// that fails it is INVALID_ARGUMENT.

#include <string>

#include "absl/status/statusor.h"
#include "common/outbox/event_limits.h"
#include "crm/audit/v1/activity.pb.h"
#include "services/audit/activity.h"

namespace crm::audit {

inline constexpr size_t kMaxDetailsBytes = outbox::kMaxDetailsBytes;  // the producers' limit

// INVALID_ARGUMENT naming the field ("details_json: not a JSON object") when
// the event cannot be stored. Empty details become "{}".
absl::StatusOr<Event> EventFromProto(const v1::ActivityEvent& proto);

void ActivityToProto(const StoredActivity& activity, v1::Activity* proto);

// `field` names the filter in error messages, e.g. "filter".
absl::StatusOr<ActivityFilter> FilterFromProto(const v1::ActivityFilter& proto,
                                               const std::string& field);

// A stable text form of the filter, for page-token fingerprints.
std::string FilterFingerprint(const ActivityFilter& filter);

}  // namespace crm::audit
