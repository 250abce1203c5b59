#pragma once

// The shape of an authenticated unary RPC: authenticate the call, then run
// `handler(const Caller&)` on the service's blocking executor and finish with
// its status. A missing or invalid token never reaches the handler.
//
// The token is checked on gRPC's thread when that cannot block (a cached or
// verifiable token, or a refusal), so a refused call costs no thread hop; a
// token naming a key not fetched yet is checked on the executor instead.
//
//   return RunAuthenticated(context, executor_, authenticator_, [=](const Caller& caller) {
//     return DoGetLead(caller, *request, response);
//   });

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/caller.h"
#include "common/server/blocking_executor.h"
#include "common/status/grpc_status.h"
#include "grpcpp/support/server_callback.h"

namespace crm::auth {

template <typename Handler>
grpc::ServerUnaryReactor* RunAuthenticated(grpc::CallbackServerContext* context,
                                           server::BlockingExecutor& executor,
                                           Authenticator& authenticator, Handler handler) {
  std::optional<absl::StatusOr<Caller>> caller = authenticator.TryAuthenticate(*context);
  if (caller.has_value() && !caller->ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller->status()));
    return reactor;
  }
  return server::RunBlocking(context, executor,
                             [context, &authenticator, caller = std::move(caller),
                              handler = std::move(handler)]() -> absl::Status {
                               if (caller.has_value()) {
                                 return handler(**caller);
                               }
                               absl::StatusOr<Caller> checked =
                                   authenticator.Authenticate(*context);
                               if (!checked.ok()) {
                                 return checked.status();
                               }
                               return handler(*checked);
                             });
}

}  // namespace crm::auth
