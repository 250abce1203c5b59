// crm-notifications: a list of its parts; see README.md in this folder.

#include "common/service/kit.h"
#include "services/notifications/embedded_migrations.h"
#include "services/notifications/notification_service.h"

int main(int argc, char** argv) {
  auto kit = crm::service::Kit::Start(argc, argv,
                                      {.info = {.name = "notifications", .default_port = 50054},
                                       .migrations = crm::notifications::Migrations()});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  crm::notifications::NotificationServiceImpl notification_service(&kit->authenticator());
  kit->AddService(&notification_service,
                  crm::notifications::v1::NotificationService::service_full_name());
  return kit->Run();
}
