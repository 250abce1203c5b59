// crm-notifications: its flags and a list of its parts; see README.md in this folder.

#include <algorithm>
#include <memory>

#include "absl/flags/flag.h"
#include "common/log/log.h"
#include "common/outbox/relay_flags.h"
#include "common/service/kit.h"
#include "services/notifications/embedded_migrations.h"
#include "services/notifications/feed_consumer.h"
#include "services/notifications/notification_hub.h"
#include "services/notifications/notification_listener.h"
#include "services/notifications/notification_repository.h"
#include "services/notifications/notification_service.h"

ABSL_FLAG(int32_t, max_watch_streams, 10000,
          "WatchNotifications streams this process keeps open at most");
ABSL_FLAG(int32_t, max_watch_streams_per_user, 16,
          "WatchNotifications streams one user may keep open at most");
ABSL_FLAG(int32_t, watch_heartbeat_seconds, 15,
          "a WatchNotifications stream quiet this long gets a keep-alive message (for proxies)");

int main(int argc, char** argv) {
  auto kit = crm::service::Kit::Start(
      argc, argv,
      {.info = {.name = "notifications", .default_port = 50054},
       .migrations = crm::notifications::Migrations(),
       .statements = crm::notifications::NotificationRepository::Statements(),
       .page_tokens = true,
       .request_results = true});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  crm::notifications::NotificationRepository notifications(&kit->pool());
  // Live streams: the watchers by recipient, woken by the database's NOTIFY.
  crm::notifications::NotificationHub hub(
      {.max_per_user = absl::GetFlag(FLAGS_max_watch_streams_per_user),
       .max_total = absl::GetFlag(FLAGS_max_watch_streams)});
  crm::notifications::NotificationListener listener(kit->flags().dsn, &hub);
  listener.Start();
  crm::notifications::NotificationServiceImpl notification_service(
      {.notifications = &notifications,
       .hub = &hub,
       .directory = &kit->user_directory(),
       .authenticator = &kit->authenticator(),
       .page_tokens = &kit->page_tokens(),
       .executor = &kit->executor(),
       .heartbeat = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_watch_heartbeat_seconds)))});
  kit->AddService(&notification_service,
                  crm::notifications::v1::NotificationService::service_full_name());
  // The activity feed, followed as the service account.
  std::unique_ptr<crm::notifications::FeedConsumer> consumer;
  if (crm::auth::ServiceCredentials* credentials = kit->service_credentials()) {
    consumer =
        std::make_unique<crm::notifications::FeedConsumer>(crm::notifications::FeedConsumerOptions{
            .audit_channel = crm::outbox::AuditChannelFromFlags(kit->flags()),
            .authorize = [credentials](grpc::ClientContext& c) { return credentials->Attach(c); },
            .notifications = &notifications,
            .directory = &kit->user_directory()});
    consumer->Start();
    kit->runner().AddHealthDetail("feed", [&consumer] { return consumer->HealthJson(); });
  } else {
    crm::log::Warning(
        "activity feed not followed: --service_account_secret_file is not set; only "
        "CreateNotification makes notifications");
  }
  // Ends the live streams, so the drain waits only for calls that end.
  kit->runner().AddShutdownHook([&hub] { hub.Shutdown(); });
  const int code = kit->Run();
  if (consumer != nullptr) {
    consumer->Stop();
  }
  listener.Stop();
  return code;
}
