#pragma once

// crm.notifications.v1.NotificationService. Its RPCs land with the notifications issue; until then
// every method authenticates the caller (UNAUTHENTICATED without a valid token) and then answers
// UNIMPLEMENTED.

#include "common/auth/authenticator.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"

namespace crm::notifications {

class NotificationServiceImpl final : public v1::NotificationService::CallbackService {
 public:
  explicit NotificationServiceImpl(auth::Authenticator* authenticator)
      : authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* ListNotifications(grpc::CallbackServerContext* context,
                                              const v1::ListNotificationsRequest* request,
                                              v1::ListNotificationsResponse* response) override;
  grpc::ServerUnaryReactor* MarkNotificationsRead(
      grpc::CallbackServerContext* context, const v1::MarkNotificationsReadRequest* request,
      v1::MarkNotificationsReadResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchNotificationsResponse>* WatchNotifications(
      grpc::CallbackServerContext* context, const v1::WatchNotificationsRequest* request) override;
  grpc::ServerUnaryReactor* CreateNotification(grpc::CallbackServerContext* context,
                                               const v1::CreateNotificationRequest* request,
                                               v1::CreateNotificationResponse* response) override;

 private:
  auth::Authenticator* const authenticator_;
};

}  // namespace crm::notifications
