#pragma once

// An activity's details as the outbox stores them: one JSON object, written
// with invalid UTF-8 replaced rather than thrown on (names and typed-in text
// come from clients).
//
//   outbox::Record(tx, "leads", {.action = "lead.updated", ...,
//                                .details_json = outbox::DetailsJson({{"changes", diff}})});
//
// A repository whose activities all concern one kind of entity keeps one
// EntityActivities and records through it:
//
//   constexpr outbox::EntityActivities kActivities("leads", "lead");
//   kActivities.Record(tx, actor_id, "lead.created", lead.id, {{"name", lead.name}});

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/outbox/outbox.h"
#include "nlohmann/json.hpp"

namespace crm::outbox {

inline std::string DetailsJson(const nlohmann::json& details) {
  return details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class EntityActivities {
 public:
  constexpr EntityActivities(absl::string_view service, absl::string_view entity_type)
      : service_(service), entity_type_(entity_type) {}

  absl::Status Record(pqxx::transaction_base& tx, int64_t actor_id, const std::string& action,
                      int64_t entity_id, const nlohmann::json& details) const {
    return outbox::Record(tx, service_,
                          Activity{.actor_user_id = actor_id,
                                   .action = action,
                                   .entity_type = std::string(entity_type_),
                                   .entity_id = entity_id,
                                   .details_json = DetailsJson(details)});
  }

 private:
  absl::string_view service_;
  absl::string_view entity_type_;
};

}  // namespace crm::outbox
