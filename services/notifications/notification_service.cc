#include "services/notifications/notification_service.h"

#include "common/service/placeholder_rpcs.h"

namespace crm::notifications {

grpc::ServerUnaryReactor* NotificationServiceImpl::ListNotifications(
    grpc::CallbackServerContext* context, const v1::ListNotificationsRequest* request,
    v1::ListNotificationsResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* NotificationServiceImpl::MarkNotificationsRead(
    grpc::CallbackServerContext* context, const v1::MarkNotificationsReadRequest* request,
    v1::MarkNotificationsReadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerWriteReactor<v1::WatchNotificationsResponse>*
NotificationServiceImpl::WatchNotifications(grpc::CallbackServerContext* context,
                                            const v1::WatchNotificationsRequest* request) {
  return new service::PlaceholderStream<grpc::ServerWriteReactor<v1::WatchNotificationsResponse>>(
      *authenticator_, *context);
}

grpc::ServerUnaryReactor* NotificationServiceImpl::CreateNotification(
    grpc::CallbackServerContext* context, const v1::CreateNotificationRequest* request,
    v1::CreateNotificationResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

}  // namespace crm::notifications
