#pragma once

// For services whose RPCs land in later issues: every method still checks
// the caller's token first, so a call without a valid token is refused
// (UNAUTHENTICATED) and an authenticated one learns the method is not there
// yet (UNIMPLEMENTED). The answer comes from gRPC's thread when the check
// cannot block; a token naming a key not fetched yet (which needs a network
// call to auth) is checked on a small executor of its own.

#include <optional>

#include "absl/status/status.h"
#include "common/auth/authenticator.h"
#include "common/deadline/call_scope.h"
#include "common/deadline/grpc_deadline.h"
#include "common/server/blocking_executor.h"
#include "common/status/grpc_status.h"
#include "grpcpp/support/server_callback.h"

namespace crm::service {

// Shared by every placeholder method of the process; never destroyed, so no
// exit-time ordering against gRPC's threads.
inline server::BlockingExecutor& PlaceholderExecutor() {
  static auto* executor = new server::BlockingExecutor(/*threads=*/2, /*max_queued=*/256);
  return *executor;
}

inline absl::Status AuthenticateThenUnimplemented(auth::Authenticator& authenticator,
                                                  const grpc::ServerContextBase& context) {
  absl::StatusOr<auth::Caller> caller = authenticator.Authenticate(context);
  if (!caller.ok()) {
    return caller.status();
  }
  return absl::UnimplementedError("not implemented yet");
}

inline grpc::ServerUnaryReactor* PlaceholderUnary(auth::Authenticator& authenticator,
                                                  grpc::CallbackServerContext* context) {
  if (std::optional<absl::StatusOr<auth::Caller>> caller =
          authenticator.TryAuthenticate(*context)) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller->ok() ? absl::UnimplementedError("not implemented yet")
                                              : caller->status()));
    return reactor;
  }
  return server::RunBlocking(context, PlaceholderExecutor(), [&authenticator, context] {
    return AuthenticateThenUnimplemented(authenticator, *context);
  });
}

// A streaming method's placeholder: `Reactor` is grpc::ServerWriteReactor<R>,
// grpc::ServerReadReactor<R> or grpc::ServerBidiReactor<Q, R>. It finishes
// once the check has run, and deletes itself.
template <typename Reactor>
class PlaceholderStream final : public Reactor {
 public:
  PlaceholderStream(auth::Authenticator& authenticator, const grpc::ServerContextBase& context) {
    if (std::optional<absl::StatusOr<auth::Caller>> caller =
            authenticator.TryAuthenticate(context)) {
      this->Finish(ToGrpcStatus(caller->ok() ? absl::UnimplementedError("not implemented yet")
                                             : caller->status()));
      return;
    }
    if (!PlaceholderExecutor().TrySubmit([this, &authenticator, &context] {
          this->Finish(ToGrpcStatus(AuthenticateThenUnimplemented(authenticator, context)));
        })) {
      this->Finish(ToGrpcStatus(absl::ResourceExhaustedError("server busy")));
    }
  }
  void OnDone() override { delete this; }
};

}  // namespace crm::service
