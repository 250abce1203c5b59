#pragma once

// Flags every service uses to verify tokens: where auth is and what the
// tokens must say. Like all flags, settable as CRM_<SERVICE>_<FLAG>.

#include <memory>
#include <string>

#include "common/auth/authenticator.h"
#include "common/client/tls_options.h"

namespace crm::auth {

// --token_issuer, --token_audience, --token_cache_size.
AuthenticatorOptions AuthenticatorOptionsFromFlags();

// --auth_address: host:port of the auth service (default 127.0.0.1:50051).
std::string AuthAddressFromFlags();

// An Authenticator that fetches keys from the auth service at --auth_address
// over a channel with `tls` (the process's --tls_ca_file/--tls_client_*).
std::unique_ptr<Authenticator> RemoteAuthenticatorFromFlags(const client::ClientTlsOptions& tls);

}  // namespace crm::auth
