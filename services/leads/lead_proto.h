#pragma once

// LeadRecord ⇄ crm.leads.v1 messages, and statuses ⇄ their stored names.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/db/row_encoder.h"
#include "crm/leads/v1/lead.pb.h"
#include "services/leads/lead_record.h"

namespace crm::leads {

void ToProto(const LeadRecord& lead, v1::Lead* out);
// The same, moving the record's strings into the message.
void ToProto(LeadRecord&& lead, v1::Lead* out);

// A lead's row (the repository's columns, as LeadRepository::ListAsync hands
// them over) straight to a v1::Lead's bytes: the message ToProto makes of
// the row's record, without the record.
const db::RowEncoder& LeadRowEncoder();

// "NEW" for LEAD_STATUS_NEW; "" for LEAD_STATUS_UNSPECIFIED or unknown values.
std::string StatusName(v1::LeadStatus status);
v1::LeadStatus StatusFromName(absl::string_view name);

}  // namespace crm::leads
