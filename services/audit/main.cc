// crm-audit: a list of its parts; see README.md in this folder.

#include "common/service/kit.h"
#include "services/audit/activity_feed.h"
#include "services/audit/activity_repository.h"
#include "services/audit/audit_service.h"
#include "services/audit/embedded_migrations.h"

int main(int argc, char** argv) {
  // Audit is where activities go: it has no outbox of its own.
  auto kit = crm::service::Kit::Start(argc, argv,
                                      {.info = {.name = "audit", .default_port = 50055},
                                       .migrations = crm::audit::Migrations(),
                                       .statements = crm::audit::ActivityRepository::Statements(),
                                       .outbox = false,
                                       .page_tokens = true});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  crm::audit::ActivityRepository activities(&kit->pool());
  crm::audit::ActivityFeed feed;
  crm::audit::AuditServiceImpl audit_service({.activities = &activities,
                                              .authenticator = &kit->authenticator(),
                                              .page_tokens = &kit->page_tokens(),
                                              .executor = &kit->executor(),
                                              .feed = &feed});
  kit->AddService(&audit_service, crm::audit::v1::AuditService::service_full_name());
  // Ends live feeds and ingest streams, so the drain waits only for calls that end.
  kit->runner().AddShutdownHook([&feed] { feed.Shutdown(); });
  return kit->Run();
}
