#pragma once

// A fixed set of worker threads for blocking work (libpqxx calls, password
// hashing) so gRPC's callback threads never block. The queue is bounded: when
// it is full the caller is told at once (RESOURCE_EXHAUSTED) instead of
// piling up latency.
//
//   grpc::ServerUnaryReactor* GetLead(...) override {
//     return RunBlocking(context, executor_, [=] { return DoGetLead(*request, response); });
//   }

#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/deadline/call_scope.h"
#include "common/deadline/grpc_deadline.h"
#include "common/status/grpc_status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace crm::server {

class BlockingExecutor {
 public:
  // `on_thread_start` (optional) runs first on each worker thread, e.g. to
  // lower its priority.
  BlockingExecutor(int threads, int max_queued, std::function<void()> on_thread_start = nullptr);
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;
  // Runs what is queued, then joins the workers.
  ~BlockingExecutor();

  // False when the queue is full or the executor is stopping.
  bool TrySubmit(absl::AnyInvocable<void() &&> task);

  // Whether TrySubmit would refuse now (a hint: it may change at once).
  bool Full() const;

 private:
  void Work();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// The answer when the executor's queue is full: RESOURCE_EXHAUSTED, retry
// in 100 ms.
inline absl::Status ExecutorBusy() {
  return WithRetryDelay(absl::ResourceExhaustedError("server busy"), absl::Milliseconds(100));
}

// Runs `fn` (returning absl::Status) on `executor` and finishes the unary RPC
// with the mapped status. A call already cancelled by its client is not run,
// and while `fn` runs the call's deadline and cancellation are its CallScope,
// which the database pool honours.
template <typename Fn>
grpc::ServerUnaryReactor* RunBlocking(grpc::CallbackServerContext* context,
                                      BlockingExecutor& executor, Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool queued = executor.TrySubmit([reactor, context, fn = std::move(fn)]() mutable {
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    absl::Status status;
    {
      CallScope scope(DeadlineOf(*context), [context] { return context->IsCancelled(); });
      status = fn();
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(ExecutorBusy()));
  }
  return reactor;
}

}  // namespace crm::server
