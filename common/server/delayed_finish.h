#pragma once

// Answering a unary call later without holding a thread: for refusals a
// client is told to retry after a while (RetryInfo). A client that ignores
// the advice and retries at once would otherwise be answered as fast as it
// asks, turning a cheap refusal into a flood of them; held for `delay`, a
// closed-loop client with N calls in flight sends at most N / delay calls a
// second, while a well-behaved one waits longer than that anyway.

#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace crm::server {

// Finishes `reactor` with `status` after `delay` (at once when zero), on a
// gRPC timer.
void FinishAfter(grpc::ServerUnaryReactor* reactor, grpc::Status status, absl::Duration delay);

}  // namespace crm::server
