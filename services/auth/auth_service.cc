#include "services/auth/auth_service.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/service_credentials.h"
#include "common/log/log.h"
#include "common/server/client_address.h"
#include "common/server/delayed_finish.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/auth/user_proto.h"
#include "services/auth/user_validation.h"

namespace crm::auth {
namespace {

using crm::auth::v1::ListPublicKeysRequest;
using crm::auth::v1::ListPublicKeysResponse;
using crm::auth::v1::LoginRequest;
using crm::auth::v1::LoginResponse;
using crm::auth::v1::LogoutRequest;
using crm::auth::v1::LogoutResponse;
using crm::auth::v1::RefreshTokenRequest;
using crm::auth::v1::RefreshTokenResponse;

// One answer for wrong password, unknown email and deactivated account.
absl::Status SignInFailed() { return absl::UnauthenticatedError("invalid email or password"); }

}  // namespace

void AuthServiceImpl::LogSignIn(absl::string_view outcome, const std::string& email,
                                const std::string& peer, int64_t user_id) {
  log::Info("sign-in")
      .Str("outcome", outcome)
      .Str("email", email)
      .Str("peer", peer)
      .Int("user_id", user_id);
}

absl::StatusOr<AccessToken> AuthServiceImpl::IssueAccessToken(const UserRecord& user) const {
  const Role role = RoleFromName(user.role).value_or(Role::kClient);
  return deps_.tokens->IssueAccessToken(
      user.id, role, role == Role::kService ? ServiceAccountName(user.email) : "");
}

grpc::ServerUnaryReactor* AuthServiceImpl::Login(grpc::CallbackServerContext* context,
                                                 const LoginRequest* request,
                                                 LoginResponse* response) {
  // Under a flood the hashing pool is full: refuse at once, before a thread
  // hop and the throttle's reads are spent on an attempt that cannot run.
  if (deps_.hasher->Saturated()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    server::FinishAfter(reactor, ToGrpcStatus(PasswordHasher::Busy()), deps_.refusal_delay);
    return reactor;
  }
  return server::RunBlocking(context, *deps_.executor, [this, context, request, response] {
    return DoLogin(server::ClientAddress(*context, *deps_.trusted_proxies), *request, response);
  });
}

absl::Status AuthServiceImpl::DoLogin(const std::string& peer, const LoginRequest& request,
                                      LoginResponse* response) {
  absl::StatusOr<std::string> email = NormalizeEmail(request.email(), "email");
  if (!email.ok()) {
    return email.status();  // not a sign-in attempt: nothing to hide
  }
  if (request.password().empty()) {
    return InvalidArgumentError("password", "is required");
  }
  if (request.password().size() > 4 * kMaxPasswordLength) {
    return SignInFailed();  // longer than any valid password can be
  }
  // Counted before the password is checked, atomically with the lock
  // check: concurrent guesses cannot overshoot the limit.
  absl::StatusOr<Admission> admission = deps_.throttle->Admit(*email, peer);
  if (!admission.ok()) {
    return admission.status();
  }
  if (!admission->admitted) {
    LogSignIn("throttled", *email, peer, 0);  // no activity: a flood must not grow the log
    return WithRetryDelay(
        absl::ResourceExhaustedError("too many failed sign-in attempts; retry later"),
        absl::Ceil(admission->retry_after, absl::Seconds(1)));
  }
  absl::StatusOr<std::optional<UserRecord>> user = deps_.users->FindByEmail(*email);
  absl::StatusOr<bool> match = false;
  if (user.ok() && user->has_value() && (*user)->active) {
    match = deps_.hasher->Verify(request.password(), (*user)->password_hash,
                                 PasswordHasher::Budget::kSignIn);
  } else if (user.ok()) {
    absl::Status burned = deps_.hasher->VerifyDummy(request.password());
    match = burned.ok() ? absl::StatusOr<bool>(false) : burned;
  }
  if (!user.ok() || !match.ok()) {
    deps_.throttle->Release(*admission).IgnoreError();  // nothing was checked
    return !user.ok() ? user.status() : match.status();
  }
  const int64_t user_id = user->has_value() ? (*user)->id : 0;
  if (!*match) {
    LogSignIn("failed", *email, peer, user_id);
    if (absl::Status counted = deps_.throttle->Failed(*admission, user_id, "sign_in");
        !counted.ok()) {
      log::Warning("failed sign-in not recorded").Str("error", counted.ToString());
    }
    return SignInFailed();
  }
  const UserRecord& account = **user;
  if (deps_.hasher->NeedsRehash(account.password_hash)) {
    if (absl::StatusOr<std::string> rehashed = deps_.hasher->Hash(request.password());
        rehashed.ok()) {
      deps_.users
          ->SetPasswordHash(account.id, *rehashed, /*revoke_tokens=*/false,
                            /*password_changed=*/false, account.id)
          .IgnoreError();
    }
  }
  const absl::StatusOr<AccessToken> access = IssueAccessToken(account);
  const absl::StatusOr<std::string> refresh = TokenIssuer::NewRefreshToken();
  const absl::StatusOr<std::string> family = NewUuid();
  for (const absl::Status& issued : {access.status(), refresh.status(), family.status()}) {
    if (!issued.ok()) {
      return issued;
    }
  }
  const absl::Time refresh_expires = absl::Now() + deps_.tokens->options().refresh_ttl;
  if (absl::Status stored = deps_.users->StoreRefreshToken(TokenIssuer::HashRefreshToken(*refresh),
                                                           account.id, *family, refresh_expires);
      !stored.ok()) {
    return stored;
  }
  LogSignIn("succeeded", *email, peer, account.id);
  if (absl::Status recorded = deps_.throttle->Succeeded(*admission, account.id, true);
      !recorded.ok()) {
    log::Warning("sign-in activity not recorded").Str("error", recorded.ToString());
  }
  response->set_access_token(access->token);
  response->set_refresh_token(*refresh);
  response->set_token_type("Bearer");
  timestamp::ToProto(access->expires_at, response->mutable_access_token_expires_at());
  timestamp::ToProto(refresh_expires, response->mutable_refresh_token_expires_at());
  ToProto(account, /*full=*/true, response->mutable_user());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuthServiceImpl::RefreshToken(grpc::CallbackServerContext* context,
                                                        const RefreshTokenRequest* request,
                                                        RefreshTokenResponse* response) {
  return server::RunBlocking(context, *deps_.executor,
                             [this, request, response] { return DoRefresh(*request, response); });
}

absl::Status AuthServiceImpl::DoRefresh(const RefreshTokenRequest& request,
                                        RefreshTokenResponse* response) {
  if (request.refresh_token().empty() || request.refresh_token().size() > 256) {
    return absl::UnauthenticatedError("invalid refresh token");
  }
  const absl::StatusOr<std::string> next = TokenIssuer::NewRefreshToken();
  if (!next.ok()) {
    return next.status();  // before the old token is retired
  }
  const absl::Time next_expires = absl::Now() + deps_.tokens->options().refresh_ttl;
  absl::StatusOr<RefreshTokenRotation> rotation =
      deps_.users->RotateRefreshToken(TokenIssuer::HashRefreshToken(request.refresh_token()),
                                      TokenIssuer::HashRefreshToken(*next), next_expires);
  if (!rotation.ok()) {
    if (rotation.status().code() == absl::StatusCode::kUnauthenticated) {
      log::Info("refresh refused");
    }
    return rotation.status();
  }
  const absl::StatusOr<AccessToken> access = IssueAccessToken(rotation->user);
  if (!access.ok()) {
    return access.status();
  }
  response->set_access_token(access->token);
  response->set_refresh_token(*next);
  response->set_token_type("Bearer");
  timestamp::ToProto(access->expires_at, response->mutable_access_token_expires_at());
  timestamp::ToProto(next_expires, response->mutable_refresh_token_expires_at());
  ToProto(rotation->user, /*full=*/true, response->mutable_user());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuthServiceImpl::Logout(grpc::CallbackServerContext* context,
                                                  const LogoutRequest* request,
                                                  LogoutResponse* response) {
  return server::RunBlocking(context, *deps_.executor, [this, context, request, response] {
    return DoLogout(*context, *request, response);
  });
}

absl::Status AuthServiceImpl::DoLogout(const grpc::CallbackServerContext& context,
                                       const LogoutRequest& request, LogoutResponse* response) {
  // Either a bearer token or the refresh token identifies who signs out; if
  // both are given they must agree.
  std::optional<int64_t> user_id;
  if (context.client_metadata().count("authorization") > 0) {
    absl::StatusOr<Caller> caller = deps_.authenticator->Authenticate(context);
    if (!caller.ok()) {
      return caller.status();
    }
    user_id = caller->user_id;
  }
  if (!request.refresh_token().empty()) {
    absl::StatusOr<std::optional<int64_t>> owner =
        deps_.users->UserOfRefreshToken(TokenIssuer::HashRefreshToken(request.refresh_token()));
    if (!owner.ok()) {
      return owner.status();
    }
    if (!owner->has_value() || (user_id.has_value() && *user_id != **owner)) {
      return absl::UnauthenticatedError("invalid refresh token");
    }
    user_id = **owner;
  }
  if (!user_id.has_value()) {
    return absl::UnauthenticatedError("missing or invalid access token");
  }
  absl::StatusOr<int> revoked = deps_.users->RevokeRefreshTokens(*user_id);
  if (!revoked.ok()) {
    return revoked.status();
  }
  log::Info("sign-out").Int("user_id", *user_id).Int("revoked_tokens", *revoked);
  response->set_revoked_token_count(*revoked);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuthServiceImpl::ListPublicKeys(grpc::CallbackServerContext* context,
                                                          const ListPublicKeysRequest* request,
                                                          ListPublicKeysResponse* response) {
  // In memory only: answered on the gRPC thread.
  const std::vector<Ed25519PublicKey> keys = deps_.tokens->PublicKeys();
  const std::string active = deps_.tokens->active_kid();
  // Active key first, then older ones newest first.
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    crm::auth::v1::PublicKey* key = response->add_keys();
    key->set_kid(it->Kid());
    key->set_algorithm("EdDSA");
    key->set_public_key(it->raw());
    key->set_public_key_pem(it->ToPem());
    key->set_active(it->Kid() == active);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace crm::auth
