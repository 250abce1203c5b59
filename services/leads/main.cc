// crm-leads: a list of its parts; see README.md in this folder.

#include "common/service/kit.h"
#include "services/leads/embedded_migrations.h"
#include "services/leads/lead_service.h"

int main(int argc, char** argv) {
  auto kit = crm::service::Kit::Start(
      argc, argv,
      {.info = {.name = "leads", .default_port = 50052}, .migrations = crm::leads::Migrations()});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  crm::leads::LeadServiceImpl lead_service(&kit->authenticator());
  kit->AddService(&lead_service, crm::leads::v1::LeadService::service_full_name());
  return kit->Run();
}
