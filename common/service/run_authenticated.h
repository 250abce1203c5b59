#pragma once

// The shape of an authenticated unary RPC: authenticate the call, then run
// `handler(const auth::Caller&)` on the service's blocking executor and finish with
// its status. A missing or invalid token never reaches the handler.
//
// The token is checked on gRPC's thread when that cannot block (a cached or
// verifiable token, or a refusal), so a refused call costs no thread hop; a
// token naming a key not fetched yet is checked on the executor instead.
//
//   return RunAuthenticated(context, executor_, authenticator_, [=](const auth::Caller& caller) {
//     return DoGetLead(caller, *request, response);
//   });

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/caller.h"
#include "common/deadline/call_scope.h"
#include "common/deadline/grpc_deadline.h"
#include "common/server/blocking_executor.h"
#include "common/status/grpc_status.h"
#include "grpcpp/support/server_callback.h"

namespace crm::service {

template <typename Handler>
grpc::ServerUnaryReactor* RunAuthenticated(grpc::CallbackServerContext* context,
                                           server::BlockingExecutor& executor,
                                           auth::Authenticator& authenticator, Handler handler) {
  std::optional<absl::StatusOr<auth::Caller>> caller = authenticator.TryAuthenticate(*context);
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
                               absl::StatusOr<auth::Caller> checked =
                                   authenticator.Authenticate(*context);
                               if (!checked.ok()) {
                                 return checked.status();
                               }
                               return handler(*checked);
                             });
}

// Ends a unary call from wherever an asynchronous handler's answer arrives.
struct UnaryFinisher {
  grpc::ServerUnaryReactor* reactor;
  void operator()(const absl::Status& status) const { reactor->Finish(ToGrpcStatus(status)); }
};

// The shape of an authenticated unary RPC whose handler never blocks: it
// starts asynchronous work (a db::PipelinedReader read) and finishes the call
// from that work's callback. `start(const auth::Caller&, UnaryFinisher finish)`
// runs on gRPC's thread when the token can be checked without blocking, on
// the executor otherwise; `finish` must be called exactly once.
//
//   return RunAuthenticatedAsync(context, executor_, authenticator_,
//                                [=](const auth::Caller& caller, UnaryFinisher finish) {
//     repository_->GetAsync(id, [=](absl::StatusOr<Row> row) { finish(Respond(row)); });
//   });
template <typename Start>
grpc::ServerUnaryReactor* RunAuthenticatedAsync(grpc::CallbackServerContext* context,
                                                server::BlockingExecutor& executor,
                                                auth::Authenticator& authenticator, Start start) {
  const UnaryFinisher finish{context->DefaultReactor()};
  if (std::optional<absl::StatusOr<auth::Caller>> caller =
          authenticator.TryAuthenticate(*context)) {
    if (caller->ok()) {
      CallScope scope(DeadlineOf(*context));
      start(**caller, finish);
    } else {
      finish(caller->status());
    }
    return finish.reactor;
  }
  const bool queued =
      executor.TrySubmit([context, &authenticator, start = std::move(start), finish]() mutable {
        absl::StatusOr<auth::Caller> checked = authenticator.Authenticate(*context);
        if (!checked.ok()) {
          finish(checked.status());
          return;
        }
        CallScope scope(DeadlineOf(*context));
        start(*checked, finish);
      });
  if (!queued) {
    finish(server::ExecutorBusy());
  }
  return finish.reactor;
}

// From an asynchronous handler that finds it must block after all (a query
// the pipelined reader does not serve): runs `fn` (returning absl::Status) on
// the executor under the call's CallScope, as RunBlocking does, and finishes
// the call with its status.
template <typename Fn>
void FinishBlocking(grpc::CallbackServerContext* context, server::BlockingExecutor& executor,
                    UnaryFinisher finish, Fn fn) {
  const bool queued = executor.TrySubmit([context, finish, fn = std::move(fn)]() mutable {
    if (context->IsCancelled()) {
      finish(absl::CancelledError("the call was cancelled"));
      return;
    }
    absl::Status status;
    {
      CallScope scope(DeadlineOf(*context), [context] { return context->IsCancelled(); });
      status = fn();
    }
    finish(status);
  });
  if (!queued) {
    finish(server::ExecutorBusy());
  }
}

}  // namespace crm::service
