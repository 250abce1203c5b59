#pragma once

// For services whose RPCs land in later issues: every method still checks
// the caller's token first, so a call without a valid token is refused
// (UNAUTHENTICATED) and an authenticated one learns the method is not there
// yet (UNIMPLEMENTED). The reactors below finish at once and delete
// themselves.

#include "common/auth/authenticator.h"
#include "common/status/grpc_status.h"
#include "grpcpp/support/server_callback.h"

namespace crm::auth {

inline grpc::Status AuthenticateThenUnimplemented(Authenticator& authenticator,
                                                  const grpc::ServerContextBase& context) {
  absl::StatusOr<Caller> caller = authenticator.Authenticate(context);
  if (!caller.ok()) {
    return ToGrpcStatus(caller.status());
  }
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not implemented yet");
}

inline grpc::ServerUnaryReactor* PlaceholderUnary(Authenticator& authenticator,
                                                  grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(AuthenticateThenUnimplemented(authenticator, *context));
  return reactor;
}

template <typename Response>
class FinishedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriteReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Request>
class FinishedReadReactor final : public grpc::ServerReadReactor<Request> {
 public:
  explicit FinishedReadReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class FinishedBidiReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit FinishedBidiReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace crm::auth
