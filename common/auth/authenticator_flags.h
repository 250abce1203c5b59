#pragma once

// Flags every service uses to verify tokens: where auth is and what the
// tokens must say. Like all flags, settable as CRM_<SERVICE>_<FLAG>.

#include <string>

#include "common/auth/authenticator.h"

namespace crm::auth {

// --token_issuer, --token_audience.
AuthenticatorOptions AuthenticatorOptionsFromFlags();

// --auth_address: host:port of the auth service (default 127.0.0.1:50051).
std::string AuthAddressFromFlags();

}  // namespace crm::auth
