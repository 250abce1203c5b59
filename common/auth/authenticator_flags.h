#pragma once

// Flags every service uses to verify tokens: where auth is and what the
// tokens must say. Like all flags, settable as CRM_<SERVICE>_<FLAG>.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/service_credentials.h"
#include "common/client/tls_options.h"
#include "grpcpp/channel.h"

namespace crm::auth {

// --token_issuer, --token_audience, --token_cache_size.
AuthenticatorOptions AuthenticatorOptionsFromFlags();

// --auth_address: host:port of the auth service (default 127.0.0.1:50051).
std::string AuthAddressFromFlags();

// An Authenticator that fetches keys from the auth service at --auth_address
// over a channel with `tls` (the process's --tls_ca_file/--tls_client_*).
std::unique_ptr<Authenticator> RemoteAuthenticatorFromFlags(const client::ClientTlsOptions& tls);

// The service's own identity for calls to other services (the outbox relay,
// directory look-ups): its SERVICE account `service`, signing in over
// `auth_channel` (to --auth_address) with the secret in
// --service_account_secret_file. nullptr when that flag is empty;
// FAILED_PRECONDITION when the file is unreadable.
absl::StatusOr<std::unique_ptr<ServiceCredentials>> ServiceCredentialsFromFlags(
    const std::string& service, std::shared_ptr<grpc::Channel> auth_channel);

}  // namespace crm::auth
