#include "services/notifications/rules.h"

#include <array>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace crm::notifications {
namespace {

using json = nlohmann::json;

// --- Reading details: a field that is absent or of another type is nullopt ---

std::optional<std::string> String(const json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<int64_t> Int(const json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const auto it = object.find(key);
  if (it == object.end()) {
    return std::nullopt;
  }
  if (it->is_number_unsigned()) {  // how nlohmann reads every integer ≥ 0
    const uint64_t value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(value);
  }
  if (it->is_number_integer()) {
    return it->get<int64_t>();
  }
  return std::nullopt;
}

// The nested object at `key`, or an empty object (whose fields all read as absent).
const json& Object(const json& object, const char* key) {
  static const json* const kNone = new json(json::object());
  if (!object.is_object()) {
    return *kNone;
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : *kNone;
}

// --- Text ---

// A stored enum name as people read it: "ACTIVE_UNDER_CONTRACT" → "Active under contract".
std::string Readable(absl::string_view name) {
  if (name.empty()) {
    return "none";
  }
  std::string text = absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", " "}});
  text[0] = absl::ascii_toupper(text[0]);
  return text;
}

// Cents as dollars with thousands separators, and cents only when not whole:
// 52500000 → "$525,000", 49999950 → "$499,999.50".
std::string Dollars(int64_t cents) {
  const uint64_t magnitude =
      cents < 0 ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  const std::string digits = absl::StrCat(magnitude / 100);
  std::string text = cents < 0 ? "-$" : "$";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      text.push_back(',');
    }
    text.push_back(digits[i]);
  }
  if (magnitude % 100 != 0) {
    absl::StrAppend(&text, ".", absl::Dec(magnitude % 100, absl::kZeroPad2));
  }
  return text;
}

// A lead's name for a title; the repositories always record one, but a title
// must not read "New lead:  from zillow".
std::string LeadName(const std::string& name) { return name.empty() ? "(no name)" : name; }

// "12 Maple St, Springfield, IL 62701 (MLS ML81234)", or as much as is known.
std::string Listing(const std::string& address, const std::string& mls_id, int64_t id) {
  if (address.empty() && mls_id.empty()) {
    return absl::StrCat("Listing ", id);
  }
  if (mls_id.empty()) {
    return address;
  }
  return address.empty() ? absl::StrCat("MLS ", mls_id)
                         : absl::StrCat(address, " (MLS ", mls_id, ")");
}

// The length of the well-formed UTF-8 sequence at s[i], or 0 when it is
// malformed (Unicode table 3-7: no overlong forms, surrogates or > U+10FFFF).
size_t SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : low;
    high = lead == 0xED ? 0x9F : high;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : low;
    high = lead == 0xF4 ? 0x8F : high;
  } else {
    return 0;
  }
  if (s.size() - i < length || byte(1) < low || byte(1) > high) {
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if ((byte(k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return length;
}

// `text` fit for a title (`one_line`) or a message: control characters
// (Unicode Cc) become spaces, except \n in a message, and so do U+2028 and
// U+2029 in a title; malformed UTF-8 becomes U+FFFD; longer than
// `max_characters` code points (≥ 1), it is cut to max_characters - 1 of them
// followed by "…".
std::string Clean(absl::string_view text, size_t max_characters, bool one_line) {
  std::string out;
  out.reserve(text.size());
  size_t characters = 0;
  size_t cut = 0;  // the bytes of `out` that hold its first max_characters - 1 code points
  for (size_t i = 0; i < text.size();) {
    if (characters == max_characters) {
      out.resize(cut);
      out += "…";
      return out;
    }
    const size_t length = SequenceLength(text, i);
    const absl::string_view sequence = text.substr(i, length);
    const auto first = static_cast<unsigned char>(text[i]);
    const bool control =
        (length == 1 && (first < 0x20 || first == 0x7F)) ||
        (length == 2 && first == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F);
    const bool kept_newline = !one_line && sequence == "\n";
    const bool separator = one_line && (sequence == "\u2028" || sequence == "\u2029");
    if (length == 0) {
      out += "\uFFFD";
      i += 1;
    } else {
      if ((control && !kept_newline) || separator) {
        out.push_back(' ');
      } else {
        out.append(sequence.data(), sequence.size());
      }
      i += length;
    }
    ++characters;
    if (characters + 1 == max_characters) {
      cut = out.size();
    }
  }
  return out;
}

// --- The rules: one function per activity, one line each in kRules ---

using Drafts = std::vector<Draft>;

Draft ToUser(int64_t recipient_id, std::string kind, std::string title, std::string message = "") {
  Draft draft;
  draft.audience = Audience::kUser;
  draft.recipient_id = recipient_id;
  draft.kind = std::move(kind);
  draft.title = std::move(title);
  draft.message = std::move(message);
  return draft;
}

Draft ToActiveAdmins(int64_t actor_id, std::string kind, std::string title, std::string message) {
  Draft draft;
  draft.audience = Audience::kActiveAdmins;
  draft.exclude_user_id = actor_id;
  draft.kind = std::move(kind);
  draft.title = std::move(title);
  draft.message = std::move(message);
  return draft;
}

// "New lead: Jane Doe from zillow", or "New lead: Jane Doe" without a source.
std::string LeadTitle(absl::string_view prefix, const std::string& name,
                      const std::string& source) {
  return source.empty() ? absl::StrCat(prefix, LeadName(name))
                        : absl::StrCat(prefix, LeadName(name), " from ", source);
}

// A lead put onto an agent (on creation, by routing a capture, by an admin):
// that agent, unless the agent did it (an agent creating its own lead). A
// routed capture also records lead.captured with assigned_to set, which
// notifies nobody, so the agent hears of it once.
Drafts LeadAssigned(const FeedEvent& event, const json& details) {
  const std::optional<int64_t> agent_id = Int(details, "agent_id");
  const std::optional<std::string> name = String(details, "name");
  const std::optional<std::string> source = String(details, "source");
  if (!agent_id || !name || !source || *agent_id <= 0 || *agent_id == event.actor_id) {
    return {};
  }
  std::string message = String(details, "message").value_or("");
  if (message.empty()) {
    message = String(Object(details, "routing"), "reason").value_or("");
  }
  return {ToUser(*agent_id, "lead.assigned", LeadTitle("New lead: ", *name, *source),
                 std::move(message))};
}

// An agent claimed a lead from the pool: that agent, although it did it, so
// its other devices hear of it.
Drafts LeadClaimed(const FeedEvent& /*event*/, const json& details) {
  const std::optional<int64_t> agent_id = Int(details, "agent_id");
  const std::optional<std::string> name = String(details, "name");
  if (!agent_id || !name || *agent_id <= 0) {
    return {};
  }
  return {ToUser(*agent_id, "lead.claimed", absl::StrCat("Lead claimed: ", LeadName(*name)),
                 String(Object(details, "routing"), "reason").value_or(""))};
}

// A new lead (created or captured) that no agent has: every active admin but
// the actor.
Drafts LeadUnassignedNew(const FeedEvent& event, const json& details) {
  const std::optional<int64_t> assigned_to = Int(details, "assigned_to");
  const std::optional<std::string> name = String(details, "name");
  const std::optional<std::string> source = String(details, "source");
  if (!assigned_to || !name || !source || *assigned_to != 0) {
    return {};
  }
  return {ToActiveAdmins(event.actor_id, "lead.unassigned_new",
                         LeadTitle("Unassigned lead: ", *name, *source),
                         String(details, "message").value_or(""))};
}

// A lead's status changed by someone other than its agent: the agent.
Drafts LeadStatusChanged(const FeedEvent& event, const json& details) {
  const std::optional<std::string> old_status = String(details, "old");
  const std::optional<std::string> new_status = String(details, "new");
  const std::optional<std::string> name = String(details, "name");
  const std::optional<int64_t> agent_id = Int(details, "assigned_to");
  if (!old_status || !new_status || !name || !agent_id || *agent_id <= 0 ||
      *agent_id == event.actor_id) {
    return {};
  }
  return {ToUser(*agent_id, "lead.status_changed",
                 absl::StrCat(LeadName(*name), ": status ", Readable(*old_status), " → ",
                              Readable(*new_status)))};
}

// A listing's status changed by someone other than its agent (a person, or an
// MLS import): the agent.
Drafts PropertyStatusChanged(const FeedEvent& event, const json& details) {
  const std::optional<std::string> old_status = String(details, "old");
  const std::optional<std::string> new_status = String(details, "new");
  const std::optional<std::string> mls_id = String(details, "mls_id");
  const std::optional<std::string> address = String(details, "address");
  const std::optional<int64_t> agent_id = Int(details, "agent_id");
  if (!old_status || !new_status || !mls_id || !address || !agent_id || *agent_id <= 0 ||
      *agent_id == event.actor_id) {
    return {};
  }
  return {ToUser(*agent_id, "property.status_changed",
                 absl::StrCat(Listing(*address, *mls_id, event.entity_id), ": ",
                              Readable(*old_status), " → ", Readable(*new_status)))};
}

// A listing's price changed by someone other than its agent: the agent.
Drafts PropertyPriceChanged(const FeedEvent& event, const json& details) {
  const std::optional<int64_t> old_cents = Int(details, "old_cents");
  const std::optional<int64_t> new_cents = Int(details, "new_cents");
  const std::optional<std::string> mls_id = String(details, "mls_id");
  const std::optional<std::string> address = String(details, "address");
  const std::optional<int64_t> agent_id = Int(details, "agent_id");
  if (!old_cents || !new_cents || !mls_id || !address || !agent_id || *agent_id <= 0 ||
      *agent_id == event.actor_id) {
    return {};
  }
  return {ToUser(*agent_id, "property.price_changed",
                 absl::StrCat(Listing(*address, *mls_id, event.entity_id), ": price ",
                              Dollars(*old_cents), " → ", Dollars(*new_cents)))};
}

// A new account: its user, welcomed.
Drafts UserWelcome(const FeedEvent& event, const json& details) {
  const std::optional<std::string> name = String(details, "name");
  const std::optional<std::string> role = String(details, "role");
  if (!name || !role || event.entity_id <= 0) {
    return {};
  }
  return {
      ToUser(event.entity_id, "user.welcome",
             name->empty() ? "Welcome to the CRM" : absl::StrCat("Welcome to the CRM, ", *name),
             absl::StrCat("Your account has been created with the role ", Readable(*role), "."))};
}

// A user's role changed (by an admin): that user.
Drafts UserRoleChanged(const FeedEvent& event, const json& details) {
  const json& role = Object(details, "role");
  const std::optional<std::string> old_role = String(role, "old");
  const std::optional<std::string> new_role = String(role, "new");
  if (!old_role || !new_role || event.entity_id <= 0 || event.entity_id == event.actor_id) {
    return {};
  }
  return {ToUser(event.entity_id, "user.role_changed",
                 absl::StrCat("Your role is now ", Readable(*new_role)),
                 absl::StrCat("Your role changed from ", Readable(*old_role), " to ",
                              Readable(*new_role), "."))};
}

struct Rule {
  absl::string_view service;  // an action counts only from the service that owns it
  absl::string_view action;
  Drafts (*drafts)(const FeedEvent& event, const json& details);
};

// Adding a rule: a function above and a line here. property.imported (a bulk
// import's summary) has none: each listing it changed has its own
// property.status_changed / price_changed.
constexpr std::array kRules = {
    Rule{"leads", "lead.assigned", LeadAssigned},
    Rule{"leads", "lead.claimed", LeadClaimed},
    Rule{"leads", "lead.created", LeadUnassignedNew},
    Rule{"leads", "lead.captured", LeadUnassignedNew},
    Rule{"leads", "lead.status_changed", LeadStatusChanged},
    Rule{"properties", "property.status_changed", PropertyStatusChanged},
    Rule{"properties", "property.price_changed", PropertyPriceChanged},
    Rule{"auth", "user.created", UserWelcome},
    Rule{"auth", "user.role_changed", UserRoleChanged},
};

}  // namespace

std::vector<std::string> RuleActions() {
  std::vector<std::string> actions;
  for (const Rule& rule : kRules) {
    if (absl::c_find(actions, rule.action) == actions.end()) {
      actions.emplace_back(rule.action);
    }
  }
  return actions;
}

std::vector<Draft> DraftsFor(const FeedEvent& event) {
  if (event.service == "notifications") {
    return {};  // our own activities never notify: no loop back
  }
  std::vector<Draft> drafts;
  std::optional<json> details;  // parsed once, when a rule wants it
  for (const Rule& rule : kRules) {
    if (rule.service != event.service || rule.action != event.action) {
      continue;
    }
    if (!details.has_value()) {
      details = json::parse(event.details_json, nullptr, /*allow_exceptions=*/false);
    }
    if (details->is_discarded() || !details->is_object()) {
      return {};
    }
    for (Draft& draft : rule.drafts(event, *details)) {
      draft.title = Clean(draft.title, kMaxTitleCharacters, /*one_line=*/true);
      draft.message = Clean(draft.message, kMaxMessageCharacters, /*one_line=*/false);
      draft.entity_type = event.entity_type;
      draft.entity_id = event.entity_id;
      drafts.push_back(std::move(draft));
    }
  }
  return drafts;
}

}  // namespace crm::notifications
