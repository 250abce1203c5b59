#pragma once

// The deadline and cancellation of the call the current thread is working
// for, so that blocking layers far below the RPC (the database pool) stop
// when the caller has given up, without every function in between passing
// them along. RunBlocking sets it around a handler:
//
//   CallScope scope(absl::FromChrono(context->deadline()),
//                   [context] { return context->IsCancelled(); });
//   ...
//   if (absl::Status s = CheckCallAlive(); !s.ok()) return s;   // deep below
//   absl::Duration left = CurrentDeadline() - absl::Now();
//
// Scopes nest (the inner one wins until it ends) and are per thread; a
// thread outside any scope has no deadline and is never cancelled.

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace crm {

class CallScope {
 public:
  explicit CallScope(absl::Time deadline, std::function<bool()> cancelled = nullptr);
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  ~CallScope();

 private:
  absl::Time deadline_;
  std::function<bool()> cancelled_;
  const CallScope* outer_;

  friend absl::Time CurrentDeadline();
  friend bool CurrentCallCancelled();
};

// The current call's deadline; InfiniteFuture outside any scope.
absl::Time CurrentDeadline();
// Whether the current call's client has cancelled it (or gone away).
bool CurrentCallCancelled();

// OK while the call is alive; CANCELLED or DEADLINE_EXCEEDED once not.
absl::Status CheckCallAlive(absl::Time now = absl::Now());

}  // namespace crm
