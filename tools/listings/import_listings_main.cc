// crm-import-listings: imports a RESO feed file (a RESO Web API payload or
// newline-delimited JSON) into the properties service over
// ImportProperties, with a progress display, and prints the counts and
// every failed record's position. tools/crm import-listings runs it as the
// bootstrap admin. See tools/README.md.

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/client/channel.h"
#include "common/client/tls_options.h"
#include "common/files/read_file.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "nlohmann/json.hpp"
#include "tools/common/tool_flags.h"
#include "tools/listings/feed_import.h"
#include "tools/listings/import_progress.h"
#include "tools/load/login.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50053", "the properties service, host:port");
ABSL_FLAG(std::string, auth_address, "127.0.0.1:50051", "the auth service, host:port");
ABSL_FLAG(std::string, login_email, "", "sign in as this ADMIN or SERVICE account");
ABSL_FLAG(std::string, login_password_file, "", "the file holding --login_email's password");
ABSL_FLAG(std::string, format, "auto", "the file's format: auto, webapi or ndjson");
// The service's largest message: it stores each message in a transaction of
// its own, so fewer, larger ones import faster (services/properties/README.md).
ABSL_FLAG(int, batch, 1000, "records per stream message (1..1000)");
ABSL_FLAG(std::string, request_id, "",
          "idempotency key: importing again with the same key answers the first import's "
          "counts and changes nothing");
ABSL_FLAG(std::string, progress, "auto",
          "auto (a bar on a terminal, else a line every 5 s), bar, lines or none");
ABSL_FLAG(bool, resolve_agents, true,
          "set each listing's agent from its ListAgentEmail: the active AGENT or ADMIN with that "
          "email (others keep their stored agent)");
ABSL_FLAG(absl::Duration, timeout, absl::Hours(1), "deadline of the whole import");
ABSL_FLAG(bool, json, false, "print the result as one JSON line on stdout");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA bundle; set for TLS (else plaintext)");
ABSL_FLAG(std::string, tls_client_cert_file, "", "PEM client certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_client_key_file, "", "its PEM private key");

namespace {

namespace lst = crm::listings;

// Exit codes: 1 when records failed (the rest imported), 2 for a bad
// invocation, 3 when the import itself failed.
constexpr int kRecordsFailed = 1;
constexpr int kUsage = 2;
constexpr int kImportFailed = 3;

int Fail(int code, absl::string_view message) {
  fprintf(stderr, "crm-import-listings: %s\n", std::string(message).c_str());
  return code;
}

// Active agents and admins by lower-cased email, read page by page from
// auth as the signed-in user.
absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> AgentsByEmail(
    const std::shared_ptr<grpc::Channel>& auth, const std::string& token) {
  absl::flat_hash_map<std::string, int64_t> agents;
  auto stub = crm::auth::v1::UserService::NewStub(auth);
  std::string page_token;
  do {
    crm::auth::v1::ListUsersRequest request;
    request.set_page_size(1000);
    request.set_page_token(page_token);
    request.set_active(true);
    crm::auth::v1::ListUsersResponse response;
    grpc::ClientContext context;
    context.set_deadline(crm::client::DeadlineAfter(absl::Seconds(10)));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    const grpc::Status status = stub->ListUsers(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat("listing the agents in auth failed: ", status.error_message(),
                       " (--resolve_agents=false imports without them)"));
    }
    for (const crm::auth::v1::User& user : response.users()) {
      if (user.role() == crm::auth::v1::ROLE_AGENT || user.role() == crm::auth::v1::ROLE_ADMIN) {
        agents.emplace(absl::AsciiStrToLower(user.email()), user.id());
      }
    }
    page_token = response.next_page_token();
  } while (!page_token.empty());
  return agents;
}

// This process's peak resident memory: what reading a feed of any size
// costs here (bounded by two batches and one record, not the file).
int64_t MaxRssKb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void PrintResult(const std::string& file, const lst::FeedImportResult& r) {
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const double rate = seconds > 0 ? r.records / seconds : 0;
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json out = {{"file", file},
                          {"records", r.records},
                          {"created", r.created},
                          {"updated", r.updated},
                          {"unchanged", r.unchanged},
                          {"failed", r.failed},
                          {"agent_emails_unmatched", r.agent_emails_unmatched},
                          {"seconds", seconds},
                          {"records_per_second", rate},
                          {"max_rss_kb", MaxRssKb()}};
    nlohmann::json failures = nlohmann::json::array();
    for (const lst::FeedFailure& f : r.failures) {
      failures.push_back({{"record", f.record},
                          {"listing_id", f.listing_id},
                          {"field", f.field},
                          {"message", f.message}});
    }
    out["failures"] = std::move(failures);
    out["failures_truncated"] = r.failures_truncated;
    printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  printf("imported %s records from %s in %.1f s (%s records/s)\n", lst::Grouped(r.records).c_str(),
         file.c_str(), seconds, lst::Grouped(static_cast<int64_t>(rate + 0.5)).c_str());
  printf("  created    %12s\n  updated    %12s\n  unchanged  %12s\n  failed     %12s\n",
         lst::Grouped(r.created).c_str(), lst::Grouped(r.updated).c_str(),
         lst::Grouped(r.unchanged).c_str(), lst::Grouped(r.failed).c_str());
  if (r.agent_emails_unmatched > 0) {
    printf(
        "  %s records name a ListAgentEmail that is no active agent here: their agent was "
        "left as stored\n",
        lst::Grouped(r.agent_emails_unmatched).c_str());
  }
  if (!r.failures.empty()) {
    printf("failed records (0-based position in the file)%s:\n",
           r.failures_truncated ? absl::StrCat(", the first ", r.failures.size()).c_str() : "");
    for (const lst::FeedFailure& f : r.failures) {
      printf("  record %s%s: %s%s\n", lst::Grouped(f.record).c_str(),
             f.listing_id.empty() ? "" : absl::StrCat(" (ListingId ", f.listing_id, ")").c_str(),
             f.field.empty() ? "" : absl::StrCat(f.field, ": ").c_str(), f.message.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<std::vector<char*>> parsed = crm::tools::ParseToolFlags(
      argc, argv,
      "imports a RESO feed into the properties service.\n\n"
      "  crm-import-listings --login_email=admin@crm.local --login_password_file=F FILE\n\n"
      "FILE is a RESO Web API payload ({\"value\": [{\"ListingKey\": ..., \"ListingId\": ..., "
      "\"StandardStatus\": \"Active\", \"ListPrice\": 525000.00, ...}]}), a JSON array of such "
      "records, or newline-delimited JSON; - reads standard input (then give --format). See "
      "tools/README.md.",
      "tools/listings/", /*allow_positional=*/true);
  if (!parsed.ok()) {
    return Fail(kUsage, parsed.status().message());
  }
  const std::vector<char*>& args = *parsed;
  if (args.size() != 2) {
    return Fail(kUsage, "give exactly one feed file (see --help)");
  }
  const std::string file = args[1];

  lst::FeedImportOptions options;
  absl::StatusOr<lst::FeedFormat> format = lst::ParseFeedFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) {
    return Fail(kUsage, format.status().message());
  }
  options.format = *format;
  absl::StatusOr<lst::ProgressStyle> style = lst::ParseProgressStyle(absl::GetFlag(FLAGS_progress));
  if (!style.ok()) {
    return Fail(kUsage, style.status().message());
  }
  options.batch_size = absl::GetFlag(FLAGS_batch);
  if (options.batch_size < 1 || options.batch_size > 1000) {
    return Fail(kUsage, "--batch: must be 1..1000 records per message");
  }
  options.request_id = absl::GetFlag(FLAGS_request_id);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  if (options.timeout <= absl::ZeroDuration()) {
    return Fail(kUsage, "--timeout: must be positive");
  }
  if (absl::GetFlag(FLAGS_login_email).empty() ||
      absl::GetFlag(FLAGS_login_password_file).empty()) {
    return Fail(kUsage,
                "give --login_email and --login_password_file (an ADMIN or SERVICE account)");
  }

  std::ifstream opened;
  std::istream* in = &std::cin;
  int64_t size = 0;
  if (file != "-") {
    opened.open(file, std::ios::binary);
    if (!opened) {
      return Fail(kUsage, absl::StrCat(file, ": cannot be opened"));
    }
    std::error_code error;
    size = static_cast<int64_t>(std::filesystem::file_size(file, error));
    in = &opened;
  } else if (options.format == lst::FeedFormat::kAuto) {
    return Fail(kUsage, "reading standard input: give --format=webapi or --format=ndjson");
  }

  const crm::client::ClientTlsOptions tls{.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                                          .cert_file = absl::GetFlag(FLAGS_tls_client_cert_file),
                                          .key_file = absl::GetFlag(FLAGS_tls_client_key_file)};
  if (absl::Status s = crm::client::ValidateClientTlsOptions(tls); !s.ok()) {
    return Fail(kUsage, s.message());
  }
  std::shared_ptr<grpc::Channel> auth =
      crm::client::CreateServiceChannel(absl::GetFlag(FLAGS_auth_address), tls);
  absl::StatusOr<crm::load::AccessToken> token =
      crm::load::Login(auth, absl::GetFlag(FLAGS_login_email),
                       absl::GetFlag(FLAGS_login_password_file), absl::Seconds(10));
  if (!token.ok()) {
    return Fail(kImportFailed, token.status().message());
  }
  options.access_token = token->token;
  if (absl::GetFlag(FLAGS_resolve_agents)) {
    absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> agents =
        AgentsByEmail(auth, token->token);
    if (!agents.ok()) {
      return Fail(kImportFailed, agents.status().message());
    }
    options.agents_by_email = *std::move(agents);
  }

  lst::ImportProgress progress(*style, size, stderr);
  progress.Start();
  absl::StatusOr<lst::FeedImportResult> result = lst::ImportFeed(
      *in, crm::client::CreateServiceChannel(absl::GetFlag(FLAGS_target), tls), options, &progress);
  progress.Stop();
  if (!result.ok()) {
    return Fail(kImportFailed, result.status().message());
  }
  PrintResult(file, *result);
  return result->failed > 0 ? kRecordsFailed : 0;
}
