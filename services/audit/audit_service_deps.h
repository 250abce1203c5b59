#pragma once

#include "common/auth/authenticator.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "services/audit/activity_feed.h"
#include "services/audit/activity_repository.h"

namespace crm::audit {

// What the audit service's RPCs run on; all owned by main().
struct AuditServiceDeps {
  ActivityRepository* activities;
  auth::Authenticator* authenticator;
  const pagination::PageTokenCodec* page_tokens;
  server::BlockingExecutor* executor;  // every database call and token check runs here
  ActivityFeed* feed;
};

}  // namespace crm::audit
