#pragma once

// Which notifications an audit activity calls for, in one place: each rule is
// a small function from one activity (with its details parsed) to drafts,
// each draft a recipient (one user, or every active admin) and its text.
//
//   for (const Draft& draft : DraftsFor(event)) {
//     // resolve kActiveAdmins through auth, then store one notification per
//     // recipient, keyed by (event.event_id, recipient) so a replay adds none
//   }
//
// The rules (rules.cc has one function and one table line for each):
//   lead.assigned          the agent the lead went to, unless that agent did it
//   lead.claimed           the claiming agent (it reaches their other devices)
//   lead.created/captured  left unassigned: every active admin but the actor
//   lead.status_changed    the lead's agent, unless that agent did it
//   property.status_changed, property.price_changed
//                          the listing's agent, unless that agent did it
//   user.created           the new user (a welcome)
//   user.role_changed      the user whose role it is
// Every other activity, and every activity of the notifications service
// itself (no loop back), calls for none.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "services/notifications/notification_record.h"

namespace crm::notifications {

// A draft's limits, in code points (crm.notifications.v1.Notification).

// An audit activity as the rules see it (crm.audit.v1.Activity, decoded).
struct FeedEvent {
  int64_t seq = 0;
  std::string event_id;
  int64_t actor_id = 0;     // the user who did it; 0 = the system
  std::string action;       // e.g. "lead.assigned"
  std::string service;      // producing service: "auth", "leads", "properties", "notifications"...
  std::string entity_type;  // "lead", "property", "user"
  int64_t entity_id = 0;
  std::string details_json;  // a JSON object's text ("{}" if none)
};

// Who a draft is for: one user, or every active ADMIN (resolved by the caller through auth).
enum class Audience { kUser, kActiveAdmins };

struct Draft {
  Audience audience = Audience::kUser;
  int64_t recipient_id = 0;     // for kUser
  int64_t exclude_user_id = 0;  // for kActiveAdmins: nobody is told of their own action (the actor)
  std::string kind;             // e.g. "lead.assigned" (≤64 chars, dotted lower_snake)
  std::string
      title;  // one line ≤200 characters (code points), e.g. "New lead: Jane Doe from zillow"
  std::string message;  // body ≤4000 code points, may be empty
  std::string entity_type;
  int64_t entity_id = 0;
};

// The notifications an activity calls for (none for most). Never throws: details that are
// not valid JSON, or lack a field, give no draft for that rule (never a crash).
//
// Every draft carries the event's entity_type and entity_id. Its title is one
// line of at most kMaxTitleCharacters: control characters (and U+2028/U+2029)
// become spaces, and a longer one is cut at a code point and ends in "…". Its
// message keeps newlines, turns other control characters into spaces and is
// cut the same way to kMaxMessageCharacters. Malformed UTF-8 (which parsed
// JSON never holds) becomes U+FFFD.
std::vector<Draft> DraftsFor(const FeedEvent& event);

// Every action some rule follows, once each: what the consumer asks audit's
// feed for, so the activities no rule wants (an import's property.created,
// every login) are not sent to it at all.
std::vector<std::string> RuleActions();

}  // namespace crm::notifications
