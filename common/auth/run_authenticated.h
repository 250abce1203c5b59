#pragma once

// The shape of an authenticated unary RPC: on the service's blocking
// executor (verifying a token may refetch auth's keys over the network),
// authenticate the call, then run `handler(const Caller&)` and finish with
// its status. A missing or invalid token never reaches the handler.
//
//   return RunAuthenticated(context, executor_, authenticator_, [=](const Caller& caller) {
//     return DoGetLead(caller, *request, response);
//   });

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/caller.h"
#include "common/server/blocking_executor.h"
#include "grpcpp/support/server_callback.h"

namespace crm::auth {

template <typename Handler>
grpc::ServerUnaryReactor* RunAuthenticated(grpc::CallbackServerContext* context,
                                           server::BlockingExecutor& executor,
                                           Authenticator& authenticator, Handler handler) {
  return server::RunBlocking(
      context, executor, [context, &authenticator, handler = std::move(handler)]() -> absl::Status {
        absl::StatusOr<Caller> caller = authenticator.Authenticate(*context);
        if (!caller.ok()) {
          return caller.status();
        }
        return handler(*caller);
      });
}

}  // namespace crm::auth
