#pragma once

// A notification as the repository reads and writes it (no gRPC here).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace crm::notifications {

// What a notification may hold (the proto's limits), in code points.
inline constexpr size_t kMaxKindCharacters = 64;
inline constexpr size_t kMaxTitleCharacters = 200;
inline constexpr size_t kMaxMessageCharacters = 4000;

struct NotificationRecord {
  int64_t id = 0;
  int64_t recipient_id = 0;
  std::string kind;
  std::string title;
  std::string message;
  std::string entity_type;
  int64_t entity_id = 0;
  std::string source_event_id;  // empty when created directly
  std::optional<int64_t> read_at_micros;
  int64_t created_at_micros = 0;
};

// What a new notification says; the database assigns id and times.
struct NewNotification {
  int64_t recipient_id = 0;
  std::string kind;
  std::string title;
  std::string message;
  std::string entity_type;
  int64_t entity_id = 0;
  std::string source_event_id;  // empty when created directly
};

}  // namespace crm::notifications
