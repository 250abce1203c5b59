#include "services/auth/user_service.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/pagination/keyset_page.h"
#include "common/service/run_authenticated.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/auth/user_proto.h"
#include "services/auth/user_validation.h"

namespace crm::auth {
namespace {

using crm::auth::v1::ChangePasswordRequest;
using crm::auth::v1::ChangePasswordResponse;
using crm::auth::v1::CreateUserRequest;
using crm::auth::v1::CreateUserResponse;
using crm::auth::v1::DeactivateUserRequest;
using crm::auth::v1::DeactivateUserResponse;
using crm::auth::v1::GetUserRequest;
using crm::auth::v1::GetUserResponse;
using crm::auth::v1::ListUsersRequest;
using crm::auth::v1::ListUsersResponse;
using crm::auth::v1::ROLE_UNSPECIFIED;
using crm::auth::v1::UpdateUserRequest;
using crm::auth::v1::UpdateUserResponse;
using crm::auth::v1::User;

absl::Status NotFound() { return absl::NotFoundError("user not found"); }

// Whether `caller` may see `user`, and how much of it.
enum class View { kNone, kDirectory, kFull };

View ViewOf(const Caller& caller, const UserRecord& user) {
  if (caller.Is(Role::kAdmin) || caller.Is(Role::kService) || caller.IsSelf(user.id)) {
    return View::kFull;
  }
  if (caller.Is(Role::kAgent) && user.role == "AGENT" && user.active) {
    return View::kDirectory;
  }
  return View::kNone;
}

}  // namespace

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(grpc::CallbackServerContext* context,
                                                      const CreateUserRequest* request,
                                                      CreateUserResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoCreate(caller, *request, response); });
}

absl::Status UserServiceImpl::DoCreate(const Caller& caller, const CreateUserRequest& request,
                                       CreateUserResponse* response) {
  if (absl::Status allowed = RequireRole(caller, {Role::kAdmin}); !allowed.ok()) {
    return allowed;
  }
  absl::StatusOr<std::string> name = ValidateName(request.user().name(), "user.name");
  if (!name.ok()) {
    return name.status();
  }
  absl::StatusOr<std::string> email = NormalizeEmail(request.user().email(), "user.email");
  if (!email.ok()) {
    return email.status();
  }
  std::optional<Role> role = FromProtoRole(request.user().role());
  if (!role.has_value()) {
    return InvalidArgumentError("user.role",
                                "must be ROLE_ADMIN, ROLE_AGENT, ROLE_CLIENT or ROLE_SERVICE");
  }
  if (absl::Status valid = PasswordHasher::Validate(request.password(), "password"); !valid.ok()) {
    return valid;
  }
  if (request.request_id().size() > 128) {
    return InvalidArgumentError("request_id", "must be at most 128 characters");
  }
  absl::StatusOr<std::string> hash = deps_.hasher->Hash(request.password());
  if (!hash.ok()) {
    return hash.status();
  }
  absl::StatusOr<UserRecord> user =
      deps_.users->Create(NewUser{.name = *name,
                                  .email = *email,
                                  .role = std::string(RoleName(*role)),
                                  .password_hash = *hash},
                          caller.user_id, request.request_id());
  if (!user.ok()) {
    return user.status();
  }
  log::Info("user created")
      .Int("user_id", user->id)
      .Str("role", user->role)
      .Int("by", caller.user_id);
  ToProto(*user, /*full=*/true, response->mutable_user());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(grpc::CallbackServerContext* context,
                                                   const GetUserRequest* request,
                                                   GetUserResponse* response) {
  if (!deps_.users->HasAsyncReads()) {
    return service::RunAuthenticated(
        context, *deps_.executor, *deps_.authenticator,
        [=, this](const Caller& caller) { return DoGet(caller, *request, response); });
  }
  // The busiest read of the suite: no thread hop, the query pipelined.
  return service::RunAuthenticatedAsync(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller, service::UnaryFinisher finish) {
        deps_.users->GetAsync(GetId(caller, *request),
                              [caller, response, finish](absl::StatusOr<UserRecord> user) {
                                finish(RespondGet(caller, user, response));
                              });
      });
}

int64_t UserServiceImpl::GetId(const Caller& caller, const GetUserRequest& request) {
  return request.id() == 0 ? caller.user_id : request.id();
}

absl::Status UserServiceImpl::RespondGet(const Caller& caller,
                                         const absl::StatusOr<UserRecord>& user,
                                         GetUserResponse* response) {
  if (!user.ok()) {
    return user.status();
  }
  const View view = ViewOf(caller, *user);
  if (view == View::kNone) {
    return NotFound();
  }
  ToProto(*user, view == View::kFull, response->mutable_user());
  return absl::OkStatus();
}

absl::Status UserServiceImpl::DoGet(const Caller& caller, const GetUserRequest& request,
                                    GetUserResponse* response) {
  return RespondGet(caller, deps_.users->Get(GetId(caller, request)), response);
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(grpc::CallbackServerContext* context,
                                                     const ListUsersRequest* request,
                                                     ListUsersResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoList(caller, *request, response); });
}

absl::Status UserServiceImpl::DoList(const Caller& caller, const ListUsersRequest& request,
                                     ListUsersResponse* response) {
  if (absl::Status allowed = RequireRole(caller, {Role::kAdmin, Role::kService, Role::kAgent});
      !allowed.ok()) {
    return allowed;
  }
  ListUsersQuery query;
  if (request.role() != ROLE_UNSPECIFIED) {
    std::optional<Role> role = FromProtoRole(request.role());
    if (!role.has_value()) {
      return InvalidArgumentError("role", "is not a known role");
    }
    query.role = std::string(RoleName(*role));
  }
  if (request.has_active()) {
    query.active = request.active();
  }
  const bool directory = caller.Is(Role::kAgent);
  if (directory) {
    // Agents see the agent directory only.
    if (query.role.has_value() && *query.role != "AGENT") {
      return absl::PermissionDeniedError("agents may list agents only");
    }
    query.role = "AGENT";
    query.active = true;
  }
  const std::string fingerprint =
      absl::StrCat("users|role=", query.role.value_or("*"),
                   "|active=", query.active.has_value() ? (*query.active ? "1" : "0") : "*",
                   "|view=", directory ? "directory" : "full");
  absl::StatusOr<pagination::KeysetPage> page = pagination::KeysetPage::Begin(
      *deps_.page_tokens, fingerprint, request.page_size(), request.page_token());
  if (!page.ok()) {
    return page.status();
  }
  query.after_id = page->after().value_or(0);
  query.limit = page->fetch_limit();
  absl::StatusOr<std::vector<UserRecord>> users = deps_.users->List(query);
  if (!users.ok()) {
    return users.status();
  }
  response->set_next_page_token(page->Finish(
      *users, response->mutable_users(),
      [directory](const UserRecord& user, User* proto) { ToProto(user, !directory, proto); },
      [](const UserRecord& user) { return user.id; }));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* UserServiceImpl::UpdateUser(grpc::CallbackServerContext* context,
                                                      const UpdateUserRequest* request,
                                                      UpdateUserResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoUpdate(caller, *request, response); });
}

absl::Status UserServiceImpl::DoUpdate(const Caller& caller, const UpdateUserRequest& request,
                                       UpdateUserResponse* response) {
  const int64_t id = request.user().id() == 0 ? caller.user_id : request.user().id();
  const bool admin = caller.Is(Role::kAdmin);
  if (!admin && (!caller.IsSelf(id) || caller.Is(Role::kService))) {
    return admin || caller.Is(Role::kService) ? absl::PermissionDeniedError("permission denied")
                                              : NotFound();
  }
  if (request.update_mask().paths_size() == 0) {
    return InvalidArgumentError("update_mask", "must name the fields to change");
  }
  UserChanges changes;
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "name") {
      absl::StatusOr<std::string> name = ValidateName(request.user().name(), "user.name");
      if (!name.ok()) {
        return name.status();
      }
      changes.name = *name;
    } else if (path == "email" || path == "role") {
      if (!admin) {
        return absl::PermissionDeniedError(absl::StrCat("only an admin may change ", path));
      }
      if (path == "email") {
        absl::StatusOr<std::string> email = NormalizeEmail(request.user().email(), "user.email");
        if (!email.ok()) {
          return email.status();
        }
        changes.email = *email;
      } else {
        std::optional<Role> role = FromProtoRole(request.user().role());
        if (!role.has_value()) {
          return InvalidArgumentError("user.role", "must be a known role");
        }
        if (caller.IsSelf(id) && *role != Role::kAdmin) {
          return absl::FailedPreconditionError("an admin cannot remove its own admin role");
        }
        changes.role = std::string(RoleName(*role));
      }
    } else {
      return InvalidArgumentError("update_mask",
                                  absl::StrCat("cannot update '", path, "' (name, email, role)"));
    }
  }
  absl::StatusOr<UserRecord> user =
      deps_.users->Update(id, changes, request.version(), caller.user_id);
  if (!user.ok()) {
    return user.status().code() == absl::StatusCode::kAlreadyExists
               ? absl::AlreadyExistsError("a user with this email already exists")
               : user.status();
  }
  // The outbox activity (same transaction) holds the old and new values.
  log::Info("user updated").Int("user_id", id).Int("by", caller.user_id);
  ToProto(*user, /*full=*/true, response->mutable_user());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* UserServiceImpl::ChangePassword(grpc::CallbackServerContext* context,
                                                          const ChangePasswordRequest* request,
                                                          ChangePasswordResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator, [=, this](const Caller& caller) {
        return DoChangePassword(caller, server::ClientAddress(*context, *deps_.trusted_proxies),
                                *request, response);
      });
}

absl::Status UserServiceImpl::DoChangePassword(const Caller& caller, const std::string& peer,
                                               const ChangePasswordRequest& request,
                                               ChangePasswordResponse* response) {
  const int64_t id = request.user_id() == 0 ? caller.user_id : request.user_id();
  const bool self = caller.IsSelf(id);
  if (!self && !caller.Is(Role::kAdmin)) {
    return caller.Is(Role::kService) ? absl::PermissionDeniedError("permission denied")
                                     : NotFound();
  }
  if (absl::Status valid = PasswordHasher::Validate(request.new_password(), "new_password");
      !valid.ok()) {
    return valid;
  }
  absl::StatusOr<UserRecord> user = deps_.users->Get(id);
  if (!user.ok()) {
    return user.status();
  }
  if (self) {
    // Proving the current password stops a stolen access token from taking
    // over the account; it is throttled like sign-in, with the same counts,
    // or a stolen token would be a way round the sign-in limit.
    absl::StatusOr<Admission> admission = deps_.throttle->Admit(user->email, peer);
    if (!admission.ok()) {
      return admission.status();
    }
    if (!admission->admitted) {
      return WithRetryDelay(
          absl::ResourceExhaustedError("too many failed password checks; retry later"),
          absl::Ceil(admission->retry_after, absl::Seconds(1)));
    }
    absl::StatusOr<bool> match =
        deps_.hasher->Verify(request.current_password(), user->password_hash);
    if (!match.ok()) {
      deps_.throttle->Release(*admission).IgnoreError();
      return match.status();
    }
    if (!*match) {
      if (absl::Status counted = deps_.throttle->Failed(*admission, id, "change_password");
          !counted.ok()) {
        log::Warning("failed password check not recorded").Str("error", counted.ToString());
      }
      return InvalidArgumentError("current_password", "is not correct");
    }
    deps_.throttle->Succeeded(*admission, id, /*record_sign_in=*/false).IgnoreError();
  }
  absl::StatusOr<std::string> hash = deps_.hasher->Hash(request.new_password());
  if (!hash.ok()) {
    return hash.status();
  }
  absl::StatusOr<int> revoked =
      deps_.users->SetPasswordHash(id, *hash, /*revoke_tokens=*/true,
                                   /*password_changed=*/true, caller.user_id);
  if (!revoked.ok()) {
    return revoked.status();
  }
  log::Info("password changed").Int("user_id", id).Int("by", caller.user_id);
  response->set_revoked_token_count(*revoked);
  timestamp::ToProto(absl::Now(), response->mutable_update_time());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* UserServiceImpl::DeactivateUser(grpc::CallbackServerContext* context,
                                                          const DeactivateUserRequest* request,
                                                          DeactivateUserResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoDeactivate(caller, *request, response); });
}

absl::Status UserServiceImpl::DoDeactivate(const Caller& caller,
                                           const DeactivateUserRequest& request,
                                           DeactivateUserResponse* response) {
  if (absl::Status allowed = RequireRole(caller, {Role::kAdmin}); !allowed.ok()) {
    return allowed;
  }
  if (request.id() <= 0) {
    return InvalidArgumentError("id", "is required");
  }
  if (caller.IsSelf(request.id())) {
    return absl::FailedPreconditionError("an admin cannot deactivate itself");
  }
  absl::StatusOr<UserRecord> user =
      deps_.users->Deactivate(request.id(), request.version(), caller.user_id);
  if (!user.ok()) {
    return user.status();
  }
  log::Info("user deactivated").Int("user_id", user->id).Int("by", caller.user_id);
  ToProto(*user, /*full=*/true, response->mutable_user());
  return absl::OkStatus();
}

}  // namespace crm::auth
