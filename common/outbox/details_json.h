#pragma once

// An activity's details as the outbox stores them: one JSON object, written
// with invalid UTF-8 replaced rather than thrown on (names and typed-in text
// come from clients).
//
//   outbox::Record(tx, "leads", {.action = "lead.updated", ...,
//                                .details_json = outbox::DetailsJson({{"changes", diff}})});

#include <string>

#include "nlohmann/json.hpp"

namespace crm::outbox {

inline std::string DetailsJson(const nlohmann::json& details) {
  return details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace crm::outbox
