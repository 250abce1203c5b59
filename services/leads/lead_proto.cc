#include "services/leads/lead_proto.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/timestamp/timestamp.h"

namespace crm::leads {
namespace {

constexpr absl::string_view kStatusPrefix = "LEAD_STATUS_";

}  // namespace

std::string StatusName(v1::LeadStatus status) {
  if (status == v1::LEAD_STATUS_UNSPECIFIED || !v1::LeadStatus_IsValid(status)) {
    return "";
  }
  return std::string(absl::StripPrefix(v1::LeadStatus_Name(status), kStatusPrefix));
}

v1::LeadStatus StatusFromName(absl::string_view name) {
  v1::LeadStatus status = v1::LEAD_STATUS_UNSPECIFIED;
  v1::LeadStatus_Parse(absl::StrCat(kStatusPrefix, name), &status);
  return status;
}

void ToProto(const LeadRecord& lead, v1::Lead* out) {
  out->Clear();
  out->set_id(lead.id);
  out->set_name(lead.name);
  out->set_email(lead.email);
  out->set_phone(lead.phone);
  out->set_contact_info(lead.contact_info);
  out->set_source(lead.source);
  out->set_status(StatusFromName(lead.status));
  out->set_assigned_to(lead.assigned_to);
  out->set_notes(lead.notes);
  out->set_version(lead.version);
  timestamp::ToProto(lead.created_at, out->mutable_create_time());
  timestamp::ToProto(lead.updated_at, out->mutable_update_time());
  out->set_external_id(lead.external_id);
  out->set_property_id(lead.property_id);
  out->set_property_mls_id(lead.property_mls_id);
  if (lead.assigned_at.has_value()) {
    timestamp::ToProto(*lead.assigned_at, out->mutable_assign_time());
  }
  if (!lead.routing.rule.empty()) {
    v1::LeadRouting* routing = out->mutable_routing();
    routing->set_rule(lead.routing.rule);
    routing->set_agent_id(lead.routing.agent_id);
    routing->set_reason(lead.routing.reason);
    for (int64_t id : lead.routing.candidates) {
      routing->add_candidate_agent_ids(id);
    }
    if (lead.routing.time.has_value()) {
      timestamp::ToProto(*lead.routing.time, routing->mutable_decide_time());
    }
  }
}

}  // namespace crm::leads
