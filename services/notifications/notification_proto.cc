#include "services/notifications/notification_proto.h"

#include "common/timestamp/timestamp.h"

namespace crm::notifications {

void ToProto(const NotificationRecord& record, v1::Notification* out) {
  out->set_id(record.id);
  out->set_recipient_id(record.recipient_id);
  out->set_kind(record.kind);
  out->set_title(record.title);
  out->set_message(record.message);
  out->set_entity_type(record.entity_type);
  out->set_entity_id(record.entity_id);
  out->set_source_event_id(record.source_event_id);
  if (record.read_at_micros.has_value()) {
    timestamp::ToProto(timestamp::FromMicros(*record.read_at_micros), out->mutable_read_time());
  }
  timestamp::ToProto(timestamp::FromMicros(record.created_at_micros), out->mutable_create_time());
}

}  // namespace crm::notifications
