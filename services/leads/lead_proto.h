#pragma once

// LeadRecord ⇄ crm.leads.v1 messages, and statuses ⇄ their stored names.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "crm/leads/v1/lead.pb.h"
#include "services/leads/lead_record.h"

namespace crm::leads {

void ToProto(const LeadRecord& lead, v1::Lead* out);
// The same, moving the record's strings into the message.
void ToProto(LeadRecord&& lead, v1::Lead* out);

// "NEW" for LEAD_STATUS_NEW; "" for LEAD_STATUS_UNSPECIFIED or unknown values.
std::string StatusName(v1::LeadStatus status);
v1::LeadStatus StatusFromName(absl::string_view name);

}  // namespace crm::leads
