#include "services/leads/lead_proto.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
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
  // Every lead of every page goes through here: a table, not a parse.
  static const auto* const by_name = [] {
    auto* map = new absl::flat_hash_map<std::string, v1::LeadStatus>();
    const google::protobuf::EnumDescriptor* statuses = v1::LeadStatus_descriptor();
    for (int i = 0; i < statuses->value_count(); ++i) {
      const auto status = static_cast<v1::LeadStatus>(statuses->value(i)->number());
      if (std::string stored = StatusName(status); !stored.empty()) {
        map->emplace(std::move(stored), status);
      }
    }
    return map;
  }();
  auto it = by_name->find(name);
  return it == by_name->end() ? v1::LEAD_STATUS_UNSPECIFIED : it->second;
}

namespace {

// One body for both overloads: `Record` is const LeadRecord& (copies) or
// LeadRecord (moves each string into the message).
template <typename Record>
void Fill(Record&& lead, v1::Lead* out) {
  out->Clear();
  out->set_id(lead.id);
  out->set_name(std::forward<Record>(lead).name);
  out->set_email(std::forward<Record>(lead).email);
  out->set_phone(std::forward<Record>(lead).phone);
  out->set_contact_info(std::forward<Record>(lead).contact_info);
  out->set_source(std::forward<Record>(lead).source);
  out->set_status(StatusFromName(lead.status));
  out->set_assigned_to(lead.assigned_to);
  out->set_notes(std::forward<Record>(lead).notes);
  out->set_version(lead.version);
  timestamp::ToProto(lead.created_at, out->mutable_create_time());
  timestamp::ToProto(lead.updated_at, out->mutable_update_time());
  out->set_external_id(std::forward<Record>(lead).external_id);
  out->set_property_id(lead.property_id);
  out->set_property_mls_id(std::forward<Record>(lead).property_mls_id);
  if (lead.assigned_at.has_value()) {
    timestamp::ToProto(*lead.assigned_at, out->mutable_assign_time());
  }
  if (!lead.routing.rule.empty()) {
    v1::LeadRouting* routing = out->mutable_routing();
    routing->set_rule(std::forward<Record>(lead).routing.rule);
    routing->set_agent_id(lead.routing.agent_id);
    routing->set_reason(std::forward<Record>(lead).routing.reason);
    routing->mutable_candidate_agent_ids()->Reserve(
        static_cast<int>(lead.routing.candidates.size()));
    for (int64_t id : lead.routing.candidates) {
      routing->add_candidate_agent_ids(id);
    }
    if (lead.routing.time.has_value()) {
      timestamp::ToProto(*lead.routing.time, routing->mutable_decide_time());
    }
  }
}

}  // namespace

void ToProto(const LeadRecord& lead, v1::Lead* out) { Fill(lead, out); }

void ToProto(LeadRecord&& lead, v1::Lead* out) { Fill(std::move(lead), out); }

const db::RowEncoder& LeadRowEncoder() {
  static const auto* const encoder = new db::RowEncoder(
      v1::Lead::descriptor(), {{"created_at", "create_time"},
                               {"updated_at", "update_time"},
                               {"assigned_at", "assign_time"},
                               {"routing_rule", "routing.rule"},
                               {"routed_to", "routing.agent_id"},
                               {"routing_reason", "routing.reason"},
                               {"routing_candidates", "routing.candidate_agent_ids"},
                               {"routed_at", "routing.decide_time"}});
  return *encoder;
}

}  // namespace crm::leads
