#pragma once

// What a service under test wrote to its outbox, oldest first, for tests
// that check a change's events (the relay is pointed at nobody, so they stay).
//
//   for (const auto& [action, details] : OutboxEvents(dsn, lead.id())) ...
//   EXPECT_THAT(OutboxActions(dsn, lead.id()), ElementsAre("lead.created"));

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace crm::testing {

// Action and details of every activity of `entity_id` (0: of every entity).
std::vector<std::pair<std::string, nlohmann::json>> OutboxEvents(const std::string& dsn,
                                                                 int64_t entity_id = 0);
std::vector<std::string> OutboxActions(const std::string& dsn, int64_t entity_id = 0);

}  // namespace crm::testing
