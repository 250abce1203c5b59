// crm-auth: flags and wiring only; see README.md in this folder.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/auth/authenticator.h"
#include "common/auth/authenticator_flags.h"
#include "common/db/pipelined_reader.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/outbox/relay_flags.h"
#include "common/pagination/page_token.h"
#include "common/retention/janitor.h"
#include "common/server/blocking_executor.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/service/service_database.h"
#include "services/auth/auth_service.h"
#include "services/auth/bootstrap.h"
#include "services/auth/embedded_migrations.h"
#include "services/auth/password_hasher.h"
#include "services/auth/sign_in_throttle.h"
#include "services/auth/token_issuer.h"
#include "services/auth/user_repository.h"
#include "services/auth/user_service.h"

ABSL_FLAG(std::vector<std::string>, signing_key_files, {},
          "Ed25519 private keys (PEM), comma-separated, oldest first: the last signs, all are "
          "published. Empty: an ephemeral key (tokens die with the process)");
ABSL_FLAG(int32_t, access_token_ttl_seconds, 900, "access token lifetime (at most 900)");
ABSL_FLAG(int32_t, refresh_token_ttl_hours, 720, "refresh token lifetime");
ABSL_FLAG(std::string, admin_email, "admin@crm.local",
          "bootstrap admin, created if no user exists");
ABSL_FLAG(std::string, admin_password_file, "", "file holding the bootstrap admin's password");
ABSL_FLAG(std::string, service_accounts_dir, "",
          "directory of <name>.secret files: one SERVICE account each");
ABSL_FLAG(int32_t, hash_concurrency, 2,
          "password hashes computed at once (~19 MiB each), on threads of their own at a lower "
          "CPU priority");
ABSL_FLAG(int32_t, hash_queue, 2,
          "password hashes waiting for those threads; past it sign-ins answer RESOURCE_EXHAUSTED");
ABSL_FLAG(double, max_hashes_per_second, 8,
          "sign-in password hashes started per second at most (0: no limit); past it sign-ins "
          "answer RESOURCE_EXHAUSTED, so a flood costs the machine a bounded share of its CPU and "
          "memory bandwidth");
ABSL_FLAG(int32_t, peer_max_failures, 100,
          "failed sign-ins from one client address within 15 minutes before it is locked");
ABSL_FLAG(int32_t, busy_sign_in_delay_ms, 250,
          "how long a sign-in refused because the hashing pool is full waits for its answer, "
          "so clients that retry at once cannot turn refusals into a flood");
ABSL_FLAG(int32_t, request_id_retention_hours, 24,
          "how long a request_id is remembered: a retry within it returns the first result");
ABSL_FLAG(int32_t, max_queued_requests, 256,
          "requests waiting for a worker before RESOURCE_EXHAUSTED");

int main(int argc, char** argv) {
  const crm::server::ServiceFlags flags =
      crm::server::InitService(argc, argv, {.name = "auth", .default_port = 50051});
  auto pool = crm::service::OpenServiceDatabase(
      flags, crm::outbox::WithOutbox(crm::auth::Migrations()),
      crm::auth::WithThrottleStatements(crm::auth::UserRepository::Statements()));
  if (!pool.ok()) {
    return pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
  }
  // Delivers this service's activities to audit until main() returns.
  auto relay = crm::outbox::StartRelayFromFlags(flags);
  if (!relay.ok()) {
    crm::log::Error("start failed").Str("error", relay.status().ToString());
    return 1;
  }
  const crm::auth::AuthenticatorOptions auth_options = crm::auth::AuthenticatorOptionsFromFlags();
  auto tokens = crm::auth::TokenIssuer::FromFiles(
      absl::GetFlag(FLAGS_signing_key_files),
      {.issuer = auth_options.issuer,
       .audience = auth_options.audience,
       .access_ttl = absl::Seconds(std::min(absl::GetFlag(FLAGS_access_token_ttl_seconds), 900)),
       .refresh_ttl = absl::Hours(absl::GetFlag(FLAGS_refresh_token_ttl_hours))});
  auto page_tokens = crm::pagination::PageTokenCodec::FromFile(flags.page_token_secret_file);
  if (!tokens.ok() || !page_tokens.ok()) {
    crm::log::Error("start failed")
        .Str("error", (!tokens.ok() ? tokens.status() : page_tokens.status()).ToString());
    return 1;
  }
  crm::auth::PasswordHasher hasher({.max_concurrent = absl::GetFlag(FLAGS_hash_concurrency),
                                    .max_queued = absl::GetFlag(FLAGS_hash_queue),
                                    .max_per_second = absl::GetFlag(FLAGS_max_hashes_per_second)});
  // GetUser, the hottest read, is pipelined: no thread per query.
  std::unique_ptr<crm::db::PipelinedReader> reader;
  if (flags.db_read_connections > 0) {
    reader = std::make_unique<crm::db::PipelinedReader>(
        crm::db::PipelinedReaderOptions{.dsn = flags.dsn,
                                        .connections = flags.db_read_connections,
                                        .statements = crm::auth::UserRepository::Statements()});
  }
  crm::auth::UserRepository users(pool->get(), reader.get());
  for (absl::Status status :
       {crm::auth::EnsureBootstrapAdmin(users, hasher, absl::GetFlag(FLAGS_admin_email),
                                        absl::GetFlag(FLAGS_admin_password_file)),
        crm::auth::EnsureServiceAccounts(users, hasher,
                                         absl::GetFlag(FLAGS_service_accounts_dir))}) {
    if (!status.ok()) {
      crm::log::Error("bootstrap failed").Str("error", status.ToString());
      return 1;
    }
  }
  crm::auth::Authenticator authenticator(std::make_unique<crm::auth::LocalKeySource>(tokens->get()),
                                         auth_options);
  crm::server::BlockingExecutor executor(flags.db_pool_size,
                                         absl::GetFlag(FLAGS_max_queued_requests));

  crm::auth::SignInThrottle throttle(
      pool->get(),
      {.account = {},
       .source = {.max_failures = std::max(1, absl::GetFlag(FLAGS_peer_max_failures))}});

  // Expired rows go in small batches, off the request path.
  crm::retention::Janitor janitor(crm::retention::JanitorOptionsFromFlags());
  janitor.Add({.name = "login_throttle",
               .run = [&throttle](int batch) { return throttle.PurgeExpired(batch); }});
  for (crm::retention::PurgeTask& task : users.PurgeTasks(
           absl::Hours(std::max(1, absl::GetFlag(FLAGS_request_id_retention_hours))))) {
    janitor.Add(std::move(task));
  }
  janitor.Add(crm::outbox::PurgeDelivered(pool->get(), crm::outbox::OutboxRetentionFromFlags()));
  janitor.Start();

  crm::auth::AuthServiceImpl auth_service({.users = &users,
                                           .hasher = &hasher,
                                           .tokens = tokens->get(),
                                           .authenticator = &authenticator,
                                           .executor = &executor,
                                           .throttle = &throttle,
                                           .trusted_proxies = &flags.trusted_proxies,
                                           .refusal_delay = absl::Milliseconds(std::max(
                                               0, absl::GetFlag(FLAGS_busy_sign_in_delay_ms)))});
  crm::auth::UserServiceImpl user_service({.users = &users,
                                           .hasher = &hasher,
                                           .authenticator = &authenticator,
                                           .page_tokens = &*page_tokens,
                                           .executor = &executor,
                                           .throttle = &throttle,
                                           .trusted_proxies = &flags.trusted_proxies});

  crm::server::Runner runner(crm::server::RunnerOptions::FromFlags(flags));
  runner.AddService(&auth_service, crm::auth::v1::AuthService::service_full_name());
  runner.AddService(&user_service, crm::auth::v1::UserService::service_full_name());
  runner.AddDependency("database", [&pool] { return (*pool)->Ping(); });
  crm::outbox::AddRelayHealthDetail(runner, relay->get());
  return runner.Run();
}
