#include "common/testing/outbox_events.h"

#include <pqxx/pqxx>

namespace crm::testing {

std::vector<std::pair<std::string, nlohmann::json>> OutboxEvents(const std::string& dsn,
                                                                 int64_t entity_id) {
  pqxx::connection conn(dsn);
  pqxx::nontransaction tx(conn);
  std::vector<std::pair<std::string, nlohmann::json>> events;
  for (const pqxx::row& row :
       tx.exec_params("SELECT action, details::text FROM outbox WHERE $1 = 0 OR entity_id = $1 "
                      "ORDER BY id",
                      entity_id)) {
    events.emplace_back(row[0].as<std::string>(), nlohmann::json::parse(row[1].as<std::string>()));
  }
  return events;
}

std::vector<std::string> OutboxActions(const std::string& dsn, int64_t entity_id) {
  std::vector<std::string> actions;
  for (auto& [action, details] : OutboxEvents(dsn, entity_id)) {
    actions.push_back(std::move(action));
  }
  return actions;
}

}  // namespace crm::testing
