// crm-audit: flags and wiring only; see README.md in this folder.

#include <memory>

#include "absl/flags/flag.h"
#include "common/auth/authenticator_flags.h"
#include "common/log/log.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/service/service_database.h"
#include "services/audit/activity_feed.h"
#include "services/audit/activity_repository.h"
#include "services/audit/audit_service.h"
#include "services/audit/embedded_migrations.h"

ABSL_FLAG(int32_t, max_queued_requests, 256,
          "requests waiting for a worker before RESOURCE_EXHAUSTED");

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "audit", .default_port = 50055});
  auto pool = crm::service::OpenServiceDatabase(flags, crm::audit::Migrations());
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }
  auto page_tokens = crm::pagination::PageTokenCodec::FromFile(flags.page_token_secret_file);
  if (!page_tokens.ok()) {
    crm::log::Error("start failed").Str("error", page_tokens.status().ToString());
    return 1;
  }
  auto authenticator = crm::auth::RemoteAuthenticatorFromFlags(flags.client_tls);
  crm::audit::ActivityRepository activities(pool->get());
  crm::audit::ActivityFeed feed;
  crm::server::BlockingExecutor executor(flags.db_pool_size,
                                         absl::GetFlag(FLAGS_max_queued_requests));
  crm::audit::AuditServiceImpl audit_service({.activities = &activities,
                                              .authenticator = authenticator.get(),
                                              .page_tokens = &*page_tokens,
                                              .executor = &executor,
                                              .feed = &feed});

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&audit_service, crm::audit::v1::AuditService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  runner.AddShutdownHook([&feed] { feed.Shutdown(); });  // ends live feeds and ingest streams
  return runner.Run();
}
