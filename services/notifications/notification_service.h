#pragma once

// crm.notifications.v1.NotificationService: proto ⇄ domain, who may do what,
// and status mapping. The SQL is in NotificationRepository; live streams are
// WatchNotificationsReactor on the NotificationHub.

#include "absl/status/status.h"
#include "common/auth/caller.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "services/notifications/notification_service_deps.h"

namespace crm::notifications {

class NotificationServiceImpl final : public v1::NotificationService::CallbackService {
 public:
  explicit NotificationServiceImpl(NotificationServiceDeps deps) : deps_(deps) {}

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
  absl::Status DoList(const auth::Caller& caller, const v1::ListNotificationsRequest& request,
                      v1::ListNotificationsResponse* response);
  absl::Status DoMarkRead(const auth::Caller& caller,
                          const v1::MarkNotificationsReadRequest& request,
                          v1::MarkNotificationsReadResponse* response);
  absl::Status DoCreate(const auth::Caller& caller, const v1::CreateNotificationRequest& request,
                        v1::CreateNotificationResponse* response);

  const NotificationServiceDeps deps_;
};

}  // namespace crm::notifications
