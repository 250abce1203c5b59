#pragma once

// crm.auth.v1.AuthService: sign-in, refresh, sign-out and the published
// verification keys. Proto ⇄ domain, throttling and status mapping live here;
// SQL lives in UserRepository. Blocking work runs on the BlockingExecutor.

#include "common/auth/authenticator.h"
#include "common/server/blocking_executor.h"
#include "common/server/client_address.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "services/auth/password_hasher.h"
#include "services/auth/sign_in_throttle.h"
#include "services/auth/token_issuer.h"
#include "services/auth/user_repository.h"

namespace crm::auth {

struct AuthServiceDeps {
  UserRepository* users;
  PasswordHasher* hasher;
  const TokenIssuer* tokens;
  Authenticator* authenticator;
  server::BlockingExecutor* executor;
  SignInThrottle* throttle;
  const server::TrustedProxies* trusted_proxies;  // whose x-forwarded-for names the client
  // How long a sign-in refused for a full hashing pool waits for its answer
  // (server::FinishAfter): a flood's clients that ignore RetryInfo are slowed
  // to their concurrency / delay.
  absl::Duration refusal_delay = absl::ZeroDuration();
};

class AuthServiceImpl final : public crm::auth::v1::AuthService::CallbackService {
 public:
  explicit AuthServiceImpl(AuthServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* context,
                                  const crm::auth::v1::LoginRequest* request,
                                  crm::auth::v1::LoginResponse* response) override;
  grpc::ServerUnaryReactor* RefreshToken(grpc::CallbackServerContext* context,
                                         const crm::auth::v1::RefreshTokenRequest* request,
                                         crm::auth::v1::RefreshTokenResponse* response) override;
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* context,
                                   const crm::auth::v1::LogoutRequest* request,
                                   crm::auth::v1::LogoutResponse* response) override;
  grpc::ServerUnaryReactor* ListPublicKeys(
      grpc::CallbackServerContext* context, const crm::auth::v1::ListPublicKeysRequest* request,
      crm::auth::v1::ListPublicKeysResponse* response) override;

 private:
  // An access token for `user`; a SERVICE account's names its service.
  absl::StatusOr<AccessToken> IssueAccessToken(const UserRecord& user) const;
  // Every attempt is logged; the throttle decides what reaches the
  // activity log.
  static void LogSignIn(absl::string_view outcome, const std::string& email,
                        const std::string& peer, int64_t user_id);
  absl::Status DoLogin(const std::string& peer, const crm::auth::v1::LoginRequest& request,
                       crm::auth::v1::LoginResponse* response);
  absl::Status DoRefresh(const crm::auth::v1::RefreshTokenRequest& request,
                         crm::auth::v1::RefreshTokenResponse* response);
  absl::Status DoLogout(const grpc::CallbackServerContext& context,
                        const crm::auth::v1::LogoutRequest& request,
                        crm::auth::v1::LogoutResponse* response);

  const AuthServiceDeps deps_;
};

}  // namespace crm::auth
