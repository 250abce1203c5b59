#include "common/server/blocking_executor.h"

#include <chrono>

namespace crm::server {

BlockingExecutor::BlockingExecutor(int threads, int max_queued,
                                   std::function<void()> on_thread_start)
    : max_queued_(static_cast<size_t>(max_queued)) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, on_thread_start] {
      if (on_thread_start != nullptr) {
        on_thread_start();
      }
      Work();
    });
  }
}

BlockingExecutor::~BlockingExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    thread.join();
  }
}

bool BlockingExecutor::HasWorkOrStopping() const { return stopping_ || !queue_.empty(); }

bool BlockingExecutor::Full() const {
  absl::MutexLock lock(&mu_);
  return stopping_ || queue_.size() >= max_queued_;
}

bool BlockingExecutor::TrySubmit(absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queued_) {
    return false;
  }
  queue_.push_back(std::move(task));
  return true;
}

void BlockingExecutor::Work() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &BlockingExecutor::HasWorkOrStopping));
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace crm::server
