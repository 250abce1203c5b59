#pragma once

// What PropertyService's methods and its import reactor work with.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/auth/authenticator.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "common/users/user_directory.h"
#include "services/properties/property_repository.h"

namespace crm::properties {

struct PropertyServiceDeps {
  PropertyRepository* listings;
  users::UserDirectory* directory;
  auth::Authenticator* authenticator;
  const pagination::PageTokenCodec* page_tokens;
  server::BlockingExecutor* executor;
};

// OK when `agent_id` is an active AGENT or ADMIN; INVALID_ARGUMENT naming
// `field` otherwise; UNAVAILABLE when auth cannot say.
absl::Status CheckListingAgent(users::UserDirectory& directory, int64_t agent_id,
                               absl::string_view field);

}  // namespace crm::properties
