// crm-properties: its flag and a list of its parts; see README.md in this folder.

#include <cstdint>

#include "absl/flags/flag.h"
#include "common/service/kit.h"
#include "services/properties/embedded_migrations.h"
#include "services/properties/property_repository.h"
#include "services/properties/property_service.h"

ABSL_FLAG(int32_t, free_text_walk_rows, crm::properties::PropertyRepository::kDefaultFreeTextWalk,
          "how many listings next in a free-text search's order are looked through for a page "
          "of matches before the words' index is asked; 0: always the index");

int main(int argc, char** argv) {
  auto kit =
      crm::service::Kit::Start(argc, argv,
                               {.info = {.name = "properties", .default_port = 50053},
                                .migrations = crm::properties::Migrations(),
                                .statements = crm::properties::PropertyRepository::Statements(),
                                .page_tokens = true,
                                .request_results = true,
                                .pipelined_reads = true,
                                // ImportProperties: the sender runs just ahead
                                // of what is stored.
                                .fixed_stream_window = true});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  // GetProperty and ListProperties, what every search screen calls, are
  // pipelined: no thread per query.
  crm::properties::PropertyRepository listings(&kit->pool(), kit->reader(),
                                               absl::GetFlag(FLAGS_free_text_walk_rows));
  crm::properties::PropertyServiceImpl property_service({.listings = &listings,
                                                         .directory = &kit->user_directory(),
                                                         .authenticator = &kit->authenticator(),
                                                         .page_tokens = &kit->page_tokens(),
                                                         .executor = &kit->executor()});
  kit->AddService(&property_service, crm::properties::v1::PropertyService::service_full_name());
  return kit->Run();
}
