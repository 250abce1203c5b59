#include "services/audit/activity_proto.h"

#include <algorithm>
#include <cmath>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "nlohmann/json.hpp"

namespace crm::audit {
namespace {

constexpr size_t kMaxNameLength = outbox::kMaxNameLength;
constexpr int kMaxFilterActions = 100;

bool IsCanonicalUuid(absl::string_view s) {
  if (s.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

// lower_snake: [a-z][a-z0-9_]*
bool IsSnakeName(absl::string_view s) {
  if (s.empty() || !absl::ascii_islower(s[0])) {
    return false;
  }
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

// "<entity>.<verb>", each part lower_snake, e.g. "lead.status_changed".
bool IsActionName(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() < 2) {
    return false;
  }
  for (absl::string_view part : parts) {
    if (!IsSnakeName(part)) {
      return false;
    }
  }
  return true;
}

absl::Status CheckName(absl::string_view value, const std::string& field, bool required,
                       bool (*valid)(absl::string_view), absl::string_view shape) {
  if (value.empty()) {
    return required ? InvalidArgumentError(field, "is required") : absl::OkStatus();
  }
  if (value.size() > kMaxNameLength || !valid(value)) {
    return InvalidArgumentError(
        field, absl::StrCat("must be ", shape, ", at most ", kMaxNameLength, " characters"));
  }
  return absl::OkStatus();
}

// What PostgreSQL's jsonb cannot hold: NUL in strings, non-finite numbers.
bool StorableJson(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      for (const auto& [key, member] : value.items()) {
        if (key.find('\0') != std::string::npos || !StorableJson(member)) {
          return false;
        }
      }
      return true;
    case nlohmann::json::value_t::array:
      for (const nlohmann::json& member : value) {
        if (!StorableJson(member)) {
          return false;
        }
      }
      return true;
    case nlohmann::json::value_t::string:
      return value.get_ref<const std::string&>().find('\0') == std::string::npos;
    case nlohmann::json::value_t::number_float:
      return std::isfinite(value.get<double>());
    default:
      return true;
  }
}

// PostgreSQL keeps microseconds; the hash covers what is stored.
absl::StatusOr<int64_t> TimestampMicros(const google::protobuf::Timestamp& ts,
                                        const std::string& field) {
  absl::StatusOr<absl::Time> t = timestamp::FromProto(ts, field);
  if (!t.ok()) {
    return t.status();
  }
  return timestamp::ToMicros(*t);
}

}  // namespace

absl::StatusOr<Event> EventFromProto(const v1::ActivityEvent& proto) {
  Event event;
  if (!IsCanonicalUuid(proto.event_id())) {
    return InvalidArgumentError("event_id", "must be a lower-case UUID (8-4-4-4-12)");
  }
  event.event_id = proto.event_id();
  if (!proto.has_occurred_at()) {
    return InvalidArgumentError("occurred_at", "is required");
  }
  absl::StatusOr<int64_t> micros = TimestampMicros(proto.occurred_at(), "occurred_at");
  if (!micros.ok()) {
    return micros.status();
  }
  event.occurred_at_micros = *micros;
  for (absl::Status s : {
           CheckName(proto.service(), "service", true, IsSnakeName, "lower_snake"),
           CheckName(proto.action(), "action", true, IsActionName,
                     "<entity>.<verb> in lower_snake"),
           CheckName(proto.entity_type(), "entity_type", false, IsSnakeName, "lower_snake"),
       }) {
    if (!s.ok()) {
      return s;
    }
  }
  if (proto.user_id() < 0) {
    return InvalidArgumentError("user_id", "must not be negative");
  }
  if (proto.entity_id() < 0) {
    return InvalidArgumentError("entity_id", "must not be negative");
  }
  if (proto.entity_id() != 0 && proto.entity_type().empty()) {
    return InvalidArgumentError("entity_id", "requires entity_type");
  }
  event.service = proto.service();
  event.user_id = proto.user_id();
  event.action = proto.action();
  event.entity_type = proto.entity_type();
  event.entity_id = proto.entity_id();

  if (!proto.details_json().empty()) {
    if (proto.details_json().size() > kMaxDetailsBytes) {
      return InvalidArgumentError("details_json",
                                  absl::StrCat("is longer than ", kMaxDetailsBytes, " bytes"));
    }
    const nlohmann::json details =
        nlohmann::json::parse(proto.details_json(), nullptr, /*allow_exceptions=*/false);
    if (details.is_discarded() || !details.is_object()) {
      return InvalidArgumentError("details_json", "not a JSON object");
    }
    if (!StorableJson(details)) {
      return InvalidArgumentError("details_json", "holds a NUL character or a number out of range");
    }
    event.details_json = proto.details_json();
  }
  return event;
}

void ActivityToProto(const StoredActivity& activity, v1::Activity* proto) {
  const Event& e = activity.event;
  proto->set_seq(activity.seq);
  proto->set_event_id(e.event_id);
  proto->set_user_id(e.user_id);
  proto->set_action(e.action);
  *proto->mutable_timestamp() = timestamp::ToProto(timestamp::FromMicros(e.occurred_at_micros));
  proto->set_service(e.service);
  proto->set_entity_type(e.entity_type);
  proto->set_entity_id(e.entity_id);
  proto->set_details_json(e.details_json);
  proto->set_hash(activity.hash);
  proto->set_prev_hash(activity.prev_hash);
  *proto->mutable_record_time() =
      timestamp::ToProto(timestamp::FromMicros(activity.record_time_micros));
}

absl::StatusOr<ActivityFilter> FilterFromProto(const v1::ActivityFilter& proto,
                                               const std::string& field) {
  ActivityFilter filter;
  if (proto.user_id() < 0) {
    return InvalidArgumentError(field + ".user_id", "must not be negative");
  }
  if (proto.entity_id() < 0) {
    return InvalidArgumentError(field + ".entity_id", "must not be negative");
  }
  if (proto.entity_id() != 0 && proto.entity_type().empty()) {
    return InvalidArgumentError(field + ".entity_id", "requires entity_type");
  }
  // Longer names cannot be stored, so they match nothing; refusing them
  // keeps oversized input out of queries.
  for (const auto& [value, name] :
       {std::pair{&proto.entity_type(), "entity_type"}, std::pair{&proto.action(), "action"},
        std::pair{&proto.service(), "service"}}) {
    if (value->size() > kMaxNameLength) {
      return InvalidArgumentError(absl::StrCat(field, ".", name),
                                  absl::StrCat("is longer than ", kMaxNameLength, " characters"));
    }
  }
  if (proto.actions_size() > kMaxFilterActions) {
    return InvalidArgumentError(field + ".actions",
                                absl::StrCat("has more than ", kMaxFilterActions, " actions"));
  }
  for (int i = 0; i < proto.actions_size(); ++i) {
    const std::string& action = proto.actions(i);
    if (action.empty() || action.size() > kMaxNameLength) {
      return InvalidArgumentError(absl::StrCat(field, ".actions[", i, "]"),
                                  absl::StrCat("must be 1 to ", kMaxNameLength, " characters"));
    }
    filter.actions.push_back(action);
  }
  // One order whatever the caller's, so the same set fingerprints the same.
  absl::c_sort(filter.actions);
  filter.actions.erase(std::unique(filter.actions.begin(), filter.actions.end()),
                       filter.actions.end());
  filter.user_id = proto.user_id();
  filter.entity_type = proto.entity_type();
  filter.entity_id = proto.entity_id();
  filter.action = proto.action();
  filter.service = proto.service();
  if (proto.has_start_time()) {
    absl::StatusOr<int64_t> start = TimestampMicros(proto.start_time(), field + ".start_time");
    if (!start.ok()) {
      return start.status();
    }
    filter.start_micros = *start;
  }
  if (proto.has_end_time()) {
    absl::StatusOr<int64_t> end = TimestampMicros(proto.end_time(), field + ".end_time");
    if (!end.ok()) {
      return end.status();
    }
    filter.end_micros = *end;
  }
  if (filter.start_micros && filter.end_micros && *filter.end_micros <= *filter.start_micros) {
    return InvalidArgumentError(field + ".end_time", "must be after start_time");
  }
  return filter;
}

std::string FilterFingerprint(const ActivityFilter& f) {
  std::string actions;
  for (const std::string& action : f.actions) {
    absl::StrAppend(&actions, action.size(), ":", action, ",");
  }
  return absl::StrCat("user=", f.user_id, "|entity=", f.entity_type.size(), ":", f.entity_type, "/",
                      f.entity_id, "|action=", f.action.size(), ":", f.action, "|actions=", actions,
                      "|service=", f.service.size(), ":", f.service,
                      "|start=", f.start_micros.value_or(-1), "|end=", f.end_micros.value_or(-1));
}

}  // namespace crm::audit
