// crm-auth: its flags and a list of its parts; see README.md in this folder.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/auth/authenticator.h"
#include "common/auth/authenticator_flags.h"
#include "common/log/log.h"
#include "common/retention/janitor.h"
#include "common/service/kit.h"
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

int main(int argc, char** argv) {
  auto kit = crm::service::Kit::Start(
      argc, argv,
      {.info = {.name = "auth", .default_port = 50051},
       .migrations = crm::auth::Migrations(),
       .statements = crm::auth::WithThrottleStatements(crm::auth::UserRepository::Statements()),
       .page_tokens = true,
       .request_results = true,
       .pipelined_reads = true});
  if (!kit.ok()) {
    return kit.exit_code();
  }
  const crm::server::ServiceFlags& flags = kit->flags();
  const crm::auth::AuthenticatorOptions auth_options = crm::auth::AuthenticatorOptionsFromFlags();
  auto tokens = crm::auth::TokenIssuer::FromFiles(
      absl::GetFlag(FLAGS_signing_key_files),
      {.issuer = auth_options.issuer,
       .audience = auth_options.audience,
       .access_ttl = absl::Seconds(std::min(absl::GetFlag(FLAGS_access_token_ttl_seconds), 900)),
       .refresh_ttl = absl::Hours(absl::GetFlag(FLAGS_refresh_token_ttl_hours))});
  if (!tokens.ok()) {
    crm::log::Error("start failed").Str("error", tokens.status().ToString());
    return 1;
  }
  crm::auth::PasswordHasher hasher({.max_concurrent = absl::GetFlag(FLAGS_hash_concurrency),
                                    .max_queued = absl::GetFlag(FLAGS_hash_queue),
                                    .max_per_second = absl::GetFlag(FLAGS_max_hashes_per_second)});
  // GetUser, the hottest read, is pipelined: no thread per query.
  crm::auth::UserRepository users(&kit->pool(), kit->reader());
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
  // Auth verifies its own tokens with its own keys: no call to itself.
  crm::auth::Authenticator authenticator(std::make_unique<crm::auth::LocalKeySource>(tokens->get()),
                                         auth_options);
  kit->UseAuthenticator(&authenticator);
  crm::auth::SignInThrottle throttle(
      &kit->pool(),
      {.account = {},
       .source = {.max_failures = std::max(1, absl::GetFlag(FLAGS_peer_max_failures))}});
  kit->janitor().Add({.name = "login_throttle",
                      .run = [&throttle](int batch) { return throttle.PurgeExpired(batch); }});
  for (crm::retention::PurgeTask& task : users.PurgeTasks()) {
    kit->janitor().Add(std::move(task));
  }

  crm::auth::AuthServiceImpl auth_service({.users = &users,
                                           .hasher = &hasher,
                                           .tokens = tokens->get(),
                                           .authenticator = &authenticator,
                                           .executor = &kit->executor(),
                                           .throttle = &throttle,
                                           .trusted_proxies = &flags.trusted_proxies,
                                           .refusal_delay = absl::Milliseconds(std::max(
                                               0, absl::GetFlag(FLAGS_busy_sign_in_delay_ms)))});
  crm::auth::UserServiceImpl user_service({.users = &users,
                                           .hasher = &hasher,
                                           .authenticator = &authenticator,
                                           .page_tokens = &kit->page_tokens(),
                                           .executor = &kit->executor(),
                                           .throttle = &throttle,
                                           .trusted_proxies = &flags.trusted_proxies});
  kit->AddService(&auth_service, crm::auth::v1::AuthService::service_full_name());
  kit->AddService(&user_service, crm::auth::v1::UserService::service_full_name());
  return kit->Run();
}
