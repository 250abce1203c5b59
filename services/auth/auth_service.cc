#include "services/auth/auth_service.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/service_credentials.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
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

// "ipv4:10.1.2.3:5678" → "10.1.2.3"; "ipv6:[::1]:5678" → "[::1]".
std::string PeerAddress(const std::string& peer) {
  absl::string_view p = peer;
  if (const size_t colon = p.find(':'); colon != absl::string_view::npos) {
    p.remove_prefix(colon + 1);
  }
  if (const size_t port = p.rfind(':'); port != absl::string_view::npos) {
    p = p.substr(0, port);
  }
  return std::string(p);
}

}  // namespace

// Every attempt is logged and becomes an activity (through the outbox). A
// failure to record it must not change the answer, so it is only logged.
void AuthServiceImpl::RecordSignIn(absl::string_view outcome, const std::string& email,
                                   const std::string& peer, int64_t user_id,
                                   const std::vector<ThrottleKey>& count_failure_on) {
  log::Info("sign-in")
      .Str("outcome", outcome)
      .Str("email", email)
      .Str("peer", peer)
      .Int("user_id", user_id);
  if (absl::Status recorded =
          deps_.users->RecordSignIn(outcome, user_id, email, peer, count_failure_on);
      !recorded.ok()) {
    log::Warning("sign-in activity not recorded").Str("error", recorded.ToString());
  }
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
    reactor->Finish(ToGrpcStatus(PasswordHasher::Busy()));
    return reactor;
  }
  return server::RunBlocking(context, *deps_.executor, [this, context, request, response] {
    return DoLogin(PeerAddress(context->peer()), *request, response);
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
  const std::string account_key = absl::StrCat("account:", *email);
  const std::string peer_key = absl::StrCat("peer:", peer);

  absl::StatusOr<absl::Duration> locked = deps_.users->LockRemaining(account_key, peer_key);
  if (!locked.ok()) {
    return locked.status();
  }
  if (*locked > absl::ZeroDuration()) {
    RecordSignIn("throttled", *email, peer, 0);
    return WithRetryDelay(
        absl::ResourceExhaustedError("too many failed sign-in attempts; retry later"),
        absl::Ceil(*locked, absl::Seconds(1)));
  }

  absl::StatusOr<std::optional<UserRecord>> user = deps_.users->FindByEmail(*email);
  if (!user.ok()) {
    return user.status();
  }
  bool match = false;
  if (user->has_value() && (*user)->active) {
    absl::StatusOr<bool> verified =
        deps_.hasher->Verify(request.password(), (*user)->password_hash);
    if (!verified.ok()) {
      return verified.status();
    }
    match = *verified;
  } else if (absl::Status burned = deps_.hasher->VerifyDummy(request.password()); !burned.ok()) {
    return burned;
  }
  if (!match) {
    RecordSignIn("failed", *email, peer, user->has_value() ? (*user)->id : 0,
                 {{account_key, deps_.account_throttle}, {peer_key, deps_.peer_throttle}});
    return SignInFailed();
  }
  const UserRecord& account = **user;
  deps_.users->ClearFailures(account_key).IgnoreError();
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
  RecordSignIn("succeeded", *email, peer, account.id);
  response->set_access_token(access->token);
  response->set_refresh_token(*refresh);
  response->set_token_type("Bearer");
  ToTimestamp(access->expires_at, response->mutable_access_token_expires_at());
  ToTimestamp(refresh_expires, response->mutable_refresh_token_expires_at());
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
  ToTimestamp(access->expires_at, response->mutable_access_token_expires_at());
  ToTimestamp(next_expires, response->mutable_refresh_token_expires_at());
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
