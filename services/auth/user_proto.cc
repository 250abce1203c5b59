#include "services/auth/user_proto.h"

#include "common/timestamp/timestamp.h"

namespace crm::auth {

crm::auth::v1::Role ToProtoRole(Role role) {
  switch (role) {
    case Role::kAdmin:
      return crm::auth::v1::ROLE_ADMIN;
    case Role::kAgent:
      return crm::auth::v1::ROLE_AGENT;
    case Role::kClient:
      return crm::auth::v1::ROLE_CLIENT;
    case Role::kService:
      return crm::auth::v1::ROLE_SERVICE;
  }
  return crm::auth::v1::ROLE_UNSPECIFIED;
}

std::optional<Role> FromProtoRole(crm::auth::v1::Role role) {
  switch (role) {
    case crm::auth::v1::ROLE_ADMIN:
      return Role::kAdmin;
    case crm::auth::v1::ROLE_AGENT:
      return Role::kAgent;
    case crm::auth::v1::ROLE_CLIENT:
      return Role::kClient;
    case crm::auth::v1::ROLE_SERVICE:
      return Role::kService;
    default:
      return std::nullopt;
  }
}

void ToProto(const UserRecord& user, bool full, crm::auth::v1::User* out) {
  out->Clear();
  out->set_id(user.id);
  out->set_name(user.name);
  out->set_email(user.email);
  out->set_role(ToProtoRole(RoleFromName(user.role).value_or(Role::kClient)));
  if (!full) {
    return;
  }
  out->set_active(user.active);
  out->set_version(user.version);
  timestamp::ToProto(user.created_at, out->mutable_create_time());
  timestamp::ToProto(user.updated_at, out->mutable_update_time());
}

}  // namespace crm::auth
