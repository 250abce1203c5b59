// crm-leads: its flags and a list of its parts; see README.md in this folder.

#include <string>

#include "absl/flags/flag.h"
#include "common/log/log.h"
#include "common/service/kit.h"
#include "services/leads/embedded_migrations.h"
#include "services/leads/lead_fields.h"
#include "services/leads/lead_repository.h"
#include "services/leads/lead_service.h"

ABSL_FLAG(std::string, default_phone_region, "US",
          "ISO 3166-1 region of phone numbers written without a country code");

int main(int argc, char** argv) {
  auto kit = crm::service::Kit::Start(argc, argv,
                                      {.info = {.name = "leads", .default_port = 50052},
                                       .migrations = crm::leads::Migrations(),
                                       .statements = crm::leads::LeadRepository::Statements(),
                                       .page_tokens = true,
                                       .request_results = true,
                                       .pipelined_reads = true});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  absl::StatusOr<crm::leads::PhoneNormalizer> phones =
      crm::leads::PhoneNormalizer::Create(absl::GetFlag(FLAGS_default_phone_region));
  if (!phones.ok()) {
    crm::log::Error("start failed").Str("error", phones.status().ToString());
    return 1;
  }
  // GetLead, the read every screen makes, is pipelined: no thread per query.
  crm::leads::LeadRepository leads(&kit->pool(), kit->reader());
  crm::leads::LeadServiceImpl lead_service({.leads = &leads,
                                            .directory = &kit->user_directory(),
                                            .phones = &*phones,
                                            .authenticator = &kit->authenticator(),
                                            .page_tokens = &kit->page_tokens(),
                                            .executor = &kit->executor()});
  kit->AddService(&lead_service, crm::leads::v1::LeadService::service_full_name());
  return kit->Run();
}
