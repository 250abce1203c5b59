#include "tools/notify_bench/watchers.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "tools/notify_bench/assignments.h"

namespace crm::notify_bench {
namespace {

using notifications::v1::NotificationService;
using notifications::v1::WatchNotificationsRequest;
using notifications::v1::WatchNotificationsResponse;

// Attempts per stream while establishing, and the wait before attempt n + 1:
// 200 ms (the service's RetryInfo) doubling up to 3.2 s, each stretched by a
// factor in [1, 2) that differs between streams, so that streams turned away
// together do not all come back together.
constexpr int kMaxAttempts = 8;
absl::Duration Backoff(int slot, int attempts) {
  const double spread = 1 + static_cast<double>((slot * 7919 + attempts * 104729) % 1000) / 1000;
  return absl::Milliseconds(200) * (1 << std::min(attempts - 1, 4)) * spread;
}

}  // namespace

// One attempt at one stream. Owned by its set, which outlives it: the set
// waits for every OnDone before the watchers are destroyed.
class WatcherSet::Watcher : public grpc::ClientReadReactor<WatchNotificationsResponse> {
 public:
  Watcher(WatcherSet* set, int slot) : set_(set), slot_(slot) {}

  void Start(NotificationService::Stub& stub, const std::string& token) {
    context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    request_.set_after_id(0);
    stub.async()->WatchNotifications(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    had_headers_ = ok;
    set_->OnHeaders(ok);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      return;  // the stream ended: OnDone follows
    }
    const int64_t now = MonotonicNowNs();
    set_->OnMessage(slot_, response_, now);
    StartRead(&response_);
  }

  // gRPC calls it last, after every other reaction has returned.
  void OnDone(const grpc::Status& status) override { set_->OnEnded(slot_, had_headers_, status); }

 private:
  WatcherSet* const set_;
  const int slot_;
  grpc::ClientContext context_;
  WatchNotificationsRequest request_;
  WatchNotificationsResponse response_;
  bool had_headers_ = false;  // written before OnDone, read there
};

WatcherSet::WatcherSet(Handler handler) : handler_(std::move(handler)) {}

WatcherSet::~WatcherSet() { CancelAll(absl::Seconds(10)); }

int WatcherSet::Open(NotificationService::Stub& stub, const std::string& token) {
  int slot = 0;
  {
    absl::MutexLock lock(&mu_);
    slot = static_cast<int>(slots_.size());
    slots_.push_back({.stub = &stub, .token = token, .attempts = 0});
    ++counts_.opened;
  }
  Start(slot);
  return slot;
}

void WatcherSet::Start(int slot) {
  Watcher* watcher = nullptr;
  NotificationService::Stub* stub = nullptr;
  std::string token;
  {
    absl::MutexLock lock(&mu_);
    watchers_.push_back(std::make_unique<Watcher>(this, slot));
    watcher = watchers_.back().get();
    ++slots_[slot].attempts;
    stub = slots_[slot].stub;
    token = slots_[slot].token;
  }
  watcher->Start(*stub, token);
}

void WatcherSet::OnHeaders(bool ok) {
  if (!ok) {
    return;  // no headers: the attempt is ending, OnEnded counts it
  }
  absl::MutexLock lock(&mu_);
  ++counts_.established;
  ++settled_;
}

void WatcherSet::OnMessage(int slot, const WatchNotificationsResponse& message,
                           int64_t received_ns) {
  if (!message.has_notification()) {
    absl::MutexLock lock(&mu_);
    ++counts_.heartbeats;  // a keep-alive (heartbeat_time only)
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++counts_.notifications;
  }
  if (handler_) {
    handler_(slot, message.notification(), received_ns);
  }
}

void WatcherSet::OnEnded(int slot, bool had_headers, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  ++finished_;
  const bool busy = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                    status.error_code() == grpc::StatusCode::UNAVAILABLE;
  if (busy && !had_headers && establishing_ && !cancelled_ &&
      slots_[slot].attempts < kMaxAttempts) {
    ++counts_.busy_retries;
    retries_.push_back({.slot = slot, .due = absl::Now() + Backoff(slot, slots_[slot].attempts)});
    return;
  }
  ++counts_.ended;
  if (!had_headers) {
    ++settled_;
  }
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  ++counts_.end_codes[code];
  if (counts_.first_end.empty()) {
    counts_.first_end =
        status.error_message().empty() ? code : absl::StrCat(code, ": ", status.error_message());
  }
}

absl::Status WatcherSet::WaitEstablished(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time now = absl::Now();
    std::vector<int> due;
    absl::Time next = deadline;
    for (auto it = retries_.begin(); it != retries_.end();) {
      if (it->due <= now) {
        due.push_back(it->slot);
        it = retries_.erase(it);
      } else {
        next = std::min(next, it->due);
        ++it;
      }
    }
    if (!due.empty()) {
      mu_.Unlock();
      for (int slot : due) {
        Start(slot);
      }
      mu_.Lock();
      continue;
    }
    if (settled_ == counts_.opened || counts_.ended > 0) {
      break;
    }
    if (now >= deadline) {
      establishing_ = false;
      return absl::DeadlineExceededError(absl::StrCat(
          "only ", counts_.established, " of ", counts_.opened,
          " WatchNotifications streams were established (response headers received) within ",
          absl::FormatDuration(timeout), " (", counts_.busy_retries,
          " opens turned away busy and retried)"));
    }
    // Until something settles, a retry falls due, or the deadline.
    const size_t retries = retries_.size();
    const auto changed = [this, retries]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return settled_ == counts_.opened || counts_.ended > 0 || retries_.size() != retries;
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), next);
  }
  establishing_ = false;
  if (counts_.ended > 0) {
    return absl::UnavailableError(
        absl::StrCat(counts_.ended, " of ", counts_.opened,
                     " WatchNotifications streams ended: ", counts_.first_end));
  }
  return absl::OkStatus();
}

absl::Status WatcherSet::CheckOpen() const {
  absl::MutexLock lock(&mu_);
  if (counts_.ended > 0) {
    return absl::UnavailableError(
        absl::StrCat(counts_.ended, " of ", counts_.opened,
                     " WatchNotifications streams ended: ", counts_.first_end));
  }
  return absl::OkStatus();
}

WatchCounts WatcherSet::Counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void WatcherSet::CancelAll(absl::Duration timeout) {
  std::vector<Watcher*> attempts;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    counts_.ended += static_cast<int>(retries_.size());  // never opened again
    retries_.clear();
    for (const auto& watcher : watchers_) {
      attempts.push_back(watcher.get());
    }
  }
  if (attempts.empty()) {
    return;  // none opened, or cancelled already
  }
  // Outside the lock: a cancellation may run the attempt's OnDone at once.
  // (Cancelling one that has ended already does nothing.)
  for (Watcher* watcher : attempts) {
    watcher->Cancel();
  }
  absl::MutexLock lock(&mu_);
  const auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ == static_cast<int>(watchers_.size());
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&all_done), timeout)) {
    // A reactor still running would use a destroyed watcher: leave them.
    for (auto& watcher : watchers_) {
      (void)watcher.release();
    }
  }
  watchers_.clear();
  finished_ = 0;
}

}  // namespace crm::notify_bench
