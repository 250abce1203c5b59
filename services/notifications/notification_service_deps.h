#pragma once

// What the notifications service's RPCs use, owned by main().

#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "common/users/user_directory.h"
#include "services/notifications/notification_hub.h"
#include "services/notifications/notification_repository.h"

namespace crm::notifications {

struct NotificationServiceDeps {
  NotificationRepository* notifications = nullptr;
  NotificationHub* hub = nullptr;
  users::UserDirectory* directory = nullptr;  // recipients of CreateNotification
  auth::Authenticator* authenticator = nullptr;
  const pagination::PageTokenCodec* page_tokens = nullptr;
  server::BlockingExecutor* executor = nullptr;
  // A live stream quiet this long gets a keep-alive message.
  absl::Duration heartbeat = absl::Seconds(15);
};

}  // namespace crm::notifications
