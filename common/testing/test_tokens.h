#pragma once

// Access tokens for in-process service tests: a signing key of the test's
// own, an Authenticator that trusts it, and tokens for any role and user, so
// a service's permission rules can be tested without running auth.
//
//   TestTokens tokens;
//   auto authenticator = tokens.NewAuthenticator();
//   context.AddMetadata("authorization", "Bearer " + tokens.For(Role::kAgent, 42));

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/auth/caller.h"
#include "common/auth/ed25519_key.h"

namespace crm::testing {

class TestTokens {
 public:
  TestTokens();

  std::unique_ptr<auth::Authenticator> NewAuthenticator(
      auth::AuthenticatorOptions options = {}) const;

  // A valid access token for `user_id` with `role`, expiring after
  // `lifetime`; `service` is a SERVICE account's service name (the "svc"
  // claim).
  std::string For(auth::Role role, int64_t user_id, const std::string& service = "",
                  absl::Duration lifetime = absl::Minutes(10)) const;

 private:
  auth::Ed25519PrivateKey key_;
};

}  // namespace crm::testing
