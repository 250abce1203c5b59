#pragma once

// A lead as the leads service keeps it, between its repository (SQL) and its
// gRPC layer (proto). Statuses are stored as the proto's value names without
// the prefix ("NEW", "APPOINTMENT_SET"), so the column reads well in SQL and
// matches the seed's default.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace crm::leads {

// How a lead came to its agent (or why it has none).
struct Routing {
  std::string rule = {};  // "round_robin", "creator", "manual", "claim"; "" never routed
  int64_t agent_id = 0;   // 0: left unassigned, in the pond
  std::string reason = {};
  std::vector<int64_t> candidates = {};  // the agents the rule considered, in order
  std::optional<absl::Time> time = {};
};

struct LeadRecord {
  int64_t id = 0;
  std::string name = {};
  std::string email = {};
  std::string phone = {};
  std::string contact_info = {};
  std::string source = {};
  std::string external_id = {};
  std::string status = {};  // "NEW", ...
  int64_t assigned_to = 0;  // 0: unassigned
  std::string notes = {};
  int64_t property_id = 0;
  std::string property_mls_id = {};
  int64_t version = 0;
  absl::Time created_at = {};
  absl::Time updated_at = {};
  std::optional<absl::Time> assigned_at = {};
  Routing routing = {};
  // The de-duplication keys ("" when the contact has none usable).
  std::string email_key = {};
  std::string phone_e164 = {};
};

// The contact fields of a new or merged lead, validated and keyed.
struct LeadContact {
  std::string name = {};
  std::string email = {};
  std::string email_key = {};
  std::string phone = {};
  std::string phone_e164 = {};
  std::string contact_info = {};
};

}  // namespace crm::leads
