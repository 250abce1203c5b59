#include "common/auth/caller.h"

namespace crm::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "ADMIN";
    case Role::kAgent:
      return "AGENT";
    case Role::kClient:
      return "CLIENT";
    case Role::kService:
      return "SERVICE";
  }
  return "CLIENT";
}

std::optional<Role> RoleFromName(absl::string_view name) {
  for (Role role : {Role::kAdmin, Role::kAgent, Role::kClient, Role::kService}) {
    if (RoleName(role) == name) {
      return role;
    }
  }
  return std::nullopt;
}

absl::Status RequireRole(const Caller& caller, std::initializer_list<Role> allowed) {
  for (Role role : allowed) {
    if (caller.role == role) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError("permission denied");
}

absl::Status RequireUnexpired(const Caller& caller, absl::Time now) {
  if (now < caller.valid_until) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(
      "access token expired; open a new stream with a fresh token to continue");
}

}  // namespace crm::auth
