#include "common/deadline/call_scope.h"

#include <utility>

namespace crm {
namespace {

thread_local const CallScope* current = nullptr;

}  // namespace

CallScope::CallScope(absl::Time deadline, std::function<bool()> cancelled)
    : deadline_(deadline), cancelled_(std::move(cancelled)), outer_(current) {
  current = this;
}

CallScope::~CallScope() { current = outer_; }

absl::Time CurrentDeadline() {
  return current != nullptr ? current->deadline_ : absl::InfiniteFuture();
}

bool CurrentCallCancelled() {
  return current != nullptr && current->cancelled_ != nullptr && current->cancelled_();
}

absl::Status CheckCallAlive(absl::Time now) {
  if (CurrentCallCancelled()) {
    return absl::CancelledError("the call was cancelled");
  }
  if (now >= CurrentDeadline()) {
    return absl::DeadlineExceededError("the call's deadline passed");
  }
  return absl::OkStatus();
}

}  // namespace crm
