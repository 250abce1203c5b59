#pragma once

// UserRecord ⇄ crm.auth.v1 messages. The password hash never leaves here.

#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "crm/auth/v1/user.pb.h"
#include "services/auth/user_repository.h"

namespace crm::auth {

// `full` false gives the directory view other agents may see: id, name,
// email, role.
void ToProto(const UserRecord& user, bool full, crm::auth::v1::User* out);

crm::auth::v1::Role ToProtoRole(Role role);
std::optional<Role> FromProtoRole(crm::auth::v1::Role role);

}  // namespace crm::auth
