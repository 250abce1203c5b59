#pragma once

// crm.auth.v1.UserService with DESIGN.md §4's permissions:
//   ADMIN   everything
//   AGENT   reads and renames itself; reads and lists active agents (id,
//           name, email, role only)
//   CLIENT  reads and renames itself
//   SERVICE reads any user
// Rows a caller may not see answer NOT_FOUND, revealing nothing.

#include "common/auth/authenticator.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "common/server/client_address.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "services/auth/password_hasher.h"
#include "services/auth/sign_in_throttle.h"
#include "services/auth/user_repository.h"

namespace crm::auth {

struct UserServiceDeps {
  UserRepository* users;
  PasswordHasher* hasher;
  Authenticator* authenticator;
  const pagination::PageTokenCodec* page_tokens;
  server::BlockingExecutor* executor;
  SignInThrottle* throttle;
  const server::TrustedProxies* trusted_proxies;  // whose x-forwarded-for names the client
};

class UserServiceImpl final : public crm::auth::v1::UserService::CallbackService {
 public:
  explicit UserServiceImpl(UserServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const crm::auth::v1::CreateUserRequest* request,
                                       crm::auth::v1::CreateUserResponse* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const crm::auth::v1::GetUserRequest* request,
                                    crm::auth::v1::GetUserResponse* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const crm::auth::v1::ListUsersRequest* request,
                                      crm::auth::v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const crm::auth::v1::UpdateUserRequest* request,
                                       crm::auth::v1::UpdateUserResponse* response) override;
  grpc::ServerUnaryReactor* ChangePassword(
      grpc::CallbackServerContext* context, const crm::auth::v1::ChangePasswordRequest* request,
      crm::auth::v1::ChangePasswordResponse* response) override;
  grpc::ServerUnaryReactor* DeactivateUser(
      grpc::CallbackServerContext* context, const crm::auth::v1::DeactivateUserRequest* request,
      crm::auth::v1::DeactivateUserResponse* response) override;

 private:
  absl::Status DoCreate(const Caller& caller, const crm::auth::v1::CreateUserRequest& request,
                        crm::auth::v1::CreateUserResponse* response);
  absl::Status DoGet(const Caller& caller, const crm::auth::v1::GetUserRequest& request,
                     crm::auth::v1::GetUserResponse* response);
  static int64_t GetId(const Caller& caller, const crm::auth::v1::GetUserRequest& request);
  static absl::Status RespondGet(const Caller& caller, const absl::StatusOr<UserRecord>& user,
                                 crm::auth::v1::GetUserResponse* response);
  absl::Status DoList(const Caller& caller, const crm::auth::v1::ListUsersRequest& request,
                      crm::auth::v1::ListUsersResponse* response);
  absl::Status DoUpdate(const Caller& caller, const crm::auth::v1::UpdateUserRequest& request,
                        crm::auth::v1::UpdateUserResponse* response);
  absl::Status DoChangePassword(const Caller& caller, const std::string& peer,
                                const crm::auth::v1::ChangePasswordRequest& request,
                                crm::auth::v1::ChangePasswordResponse* response);
  absl::Status DoDeactivate(const Caller& caller,
                            const crm::auth::v1::DeactivateUserRequest& request,
                            crm::auth::v1::DeactivateUserResponse* response);

  const UserServiceDeps deps_;
};

}  // namespace crm::auth
