#pragma once

// Accounts that must exist before anyone can sign in:
// - the bootstrap admin, created once when the users table is empty;
// - one SERVICE account per file `<name>.secret` in a directory (a
//   Kubernetes Secret mounted as files, or .crm/secrets/service-accounts
//   locally), kept in step with the secret on every start.

#include <string>

#include "absl/status/status.h"
#include "services/auth/password_hasher.h"
#include "services/auth/user_repository.h"

namespace crm::auth {

absl::Status EnsureBootstrapAdmin(UserRepository& users, PasswordHasher& hasher,
                                  const std::string& email, const std::string& password_file);

absl::Status EnsureServiceAccounts(UserRepository& users, PasswordHasher& hasher,
                                   const std::string& directory);

}  // namespace crm::auth
