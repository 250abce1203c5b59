#include "common/auth/authenticator_flags.h"

#include <algorithm>
#include <utility>

#include "absl/flags/flag.h"
#include "common/client/channel.h"

ABSL_FLAG(std::string, auth_address, "127.0.0.1:50051",
          "host:port of the auth service (token verification keys)");
ABSL_FLAG(std::string, token_issuer, "crm-auth", "the `iss` every access token must carry");
ABSL_FLAG(std::string, token_audience, "crm", "the `aud` every access token must carry");
ABSL_FLAG(std::string, service_account_secret_file, "",
          "file holding this service's account secret, for its calls to other services (the "
          "outbox relay to audit, directory look-ups in auth); empty: no such calls");
ABSL_FLAG(int32_t, token_cache_size, 10000,
          "verified access tokens remembered until they expire (0: verify every call)");

namespace crm::auth {

AuthenticatorOptions AuthenticatorOptionsFromFlags() {
  AuthenticatorOptions options;
  options.issuer = absl::GetFlag(FLAGS_token_issuer);
  options.audience = absl::GetFlag(FLAGS_token_audience);
  options.token_cache_size = std::max(0, absl::GetFlag(FLAGS_token_cache_size));
  return options;
}

std::string AuthAddressFromFlags() { return absl::GetFlag(FLAGS_auth_address); }

std::unique_ptr<Authenticator> RemoteAuthenticatorFromFlags(const client::ClientTlsOptions& tls) {
  return std::make_unique<Authenticator>(
      std::make_unique<RemoteKeySource>(client::CreateServiceChannel(AuthAddressFromFlags(), tls)),
      AuthenticatorOptionsFromFlags());
}

absl::StatusOr<std::unique_ptr<ServiceCredentials>> ServiceCredentialsFromFlags(
    const std::string& service, std::shared_ptr<grpc::Channel> auth_channel) {
  const std::string secret_file = absl::GetFlag(FLAGS_service_account_secret_file);
  if (secret_file.empty()) {
    return nullptr;
  }
  return ServiceCredentials::FromFile(std::move(auth_channel), service, secret_file);
}

}  // namespace crm::auth
