#pragma once

// NotificationRecord → crm.notifications.v1.Notification.

#include "crm/notifications/v1/notification.pb.h"
#include "services/notifications/notification_record.h"

namespace crm::notifications {

void ToProto(const NotificationRecord& record, v1::Notification* out);

}  // namespace crm::notifications
