#include "tools/gateway_bench/web_watchers.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crm/notifications/v1/notification_service.pb.h"
#include "tools/gateway_bench/http_socket.h"
#include "tools/gateway_bench/web_response.h"
#include "tools/notify_bench/assignments.h"

namespace crm::gateway_bench {
namespace {

using notifications::v1::WatchNotificationsResponse;

// As notify_bench::WatcherSet: attempts per stream while establishing, and
// the wait before attempt n + 1: 200 ms (the service's RetryInfo) doubling up
// to 3.2 s, stretched by a factor in [1, 2) that differs between streams.
constexpr int kMaxAttempts = 8;
int64_t BackoffNs(int stream, int attempts) {
  const double spread = 1 + static_cast<double>((stream * 7919 + attempts * 104729) % 1000) / 1000;
  return static_cast<int64_t>(200e6 * (1 << std::min(attempts - 1, 4)) * spread);
}

}  // namespace

struct WebWatcherSet::Stream {
  enum class State { kWaiting, kConnecting, kHeaders, kLive, kDone };
  int index = 0;
  int fd = -1;
  State state = State::kWaiting;
  int attempts = 0;
  bool had_headers = false;
  WebResponseParser parser;
};

WebWatcherSet::WebWatcherSet(Options options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event e = {.events = EPOLLIN, .data = {.ptr = nullptr}};
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_fd_, &e);
  thread_ = std::thread([this] { Loop(); });
}

WebWatcherSet::~WebWatcherSet() {
  CloseAll();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  Wake();
  thread_.join();
  close(wake_fd_);
  close(epoll_);
}

void WebWatcherSet::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void WebWatcherSet::Open(int count) {
  {
    absl::MutexLock lock(&mu_);
    to_open_ += count;
    counts_.opened += count;
  }
  Wake();
}

absl::Status WebWatcherSet::WaitEstablished(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return settled_ == counts_.opened || counts_.ended > 0;
  };
  const bool done = mu_.AwaitWithTimeout(absl::Condition(&settled), timeout);
  establishing_ = false;
  if (counts_.ended > 0) {
    return absl::UnavailableError(
        absl::StrCat(counts_.ended, " of ", counts_.opened,
                     " gRPC-web WatchNotifications streams ended: ", counts_.first_end));
  }
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat(
        "only ", counts_.established, " of ", counts_.opened,
        " gRPC-web WatchNotifications streams were established (response headers received) "
        "within ",
        absl::FormatDuration(timeout), " (", counts_.busy_retries,
        " opens refused busy and retried)"));
  }
  return absl::OkStatus();
}

absl::Status WebWatcherSet::CheckOpen() const {
  absl::MutexLock lock(&mu_);
  if (counts_.ended > 0) {
    return absl::UnavailableError(
        absl::StrCat(counts_.ended, " of ", counts_.opened,
                     " gRPC-web WatchNotifications streams ended: ", counts_.first_end));
  }
  return absl::OkStatus();
}

WebWatchCounts WebWatcherSet::Counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void WebWatcherSet::CloseAll() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return;
    }
    close_all_ = true;
  }
  Wake();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&closed_));
}

void WebWatcherSet::Loop() {
  std::vector<epoll_event> events(256);
  while (true) {
    const int timeout_ms = pending_.empty() && retries_.empty() ? 200 : 5;
    const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t ignored = 0;
        (void)!read(wake_fd_, &ignored, sizeof(ignored));
        continue;
      }
      Stream& s = *static_cast<Stream*>(events[i].data.ptr);
      if (s.fd < 0) {
        continue;
      }
      if (s.state == Stream::State::kConnecting) {
        OnWritable(s);
      } else {
        OnReadable(s);
      }
    }
    int to_open = 0;
    bool close_all = false;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) {
        return;
      }
      to_open = to_open_;
      to_open_ = 0;
      close_all = close_all_ && !closed_;
    }
    if (close_all) {
      CloseEverything();
      absl::MutexLock lock(&mu_);
      closed_ = true;
      continue;
    }
    for (int i = 0; i < to_open; ++i) {
      auto stream = std::make_unique<Stream>();
      stream->index = static_cast<int>(streams_.size());
      pending_.push_back(stream->index);
      streams_.push_back(std::move(stream));
    }
    StartPending(notify_bench::MonotonicNowNs());
  }
}

void WebWatcherSet::StartPending(int64_t now_ns) {
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->first <= now_ns) {
      pending_.push_back(it->second);
      it = retries_.erase(it);
    } else {
      ++it;
    }
  }
  while (connecting_ < options_.max_connecting && !pending_.empty()) {
    Stream& s = *streams_[pending_.front()];
    pending_.pop_front();
    Connect(s);
  }
}

void WebWatcherSet::Connect(Stream& s) {
  ++s.attempts;
  s.had_headers = false;
  s.parser = WebResponseParser();
  absl::StatusOr<int> fd = StartConnect(options_.address);
  if (!fd.ok()) {
    Ended(s, "CONNECT_FAILED", std::string(fd.status().message()), false);
    return;
  }
  s.fd = *fd;
  s.state = Stream::State::kConnecting;
  ++connecting_;
  epoll_event e = {.events = EPOLLOUT, .data = {.ptr = &s}};
  epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &e);
}

void WebWatcherSet::OnWritable(Stream& s) {
  if (const int error = ConnectError(s.fd); error != 0) {
    Ended(s, "CONNECT_FAILED", strerror(error), false);
    return;
  }
  if (absl::Status sent = SendAll(s.fd, options_.request, absl::Seconds(2)); !sent.ok()) {
    Ended(s, "CONNECTION_CLOSED", std::string(sent.message()), false);
    return;
  }
  s.state = Stream::State::kHeaders;
  epoll_event e = {.events = EPOLLIN, .data = {.ptr = &s}};
  epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &e);
}

void WebWatcherSet::OnReadable(Stream& s) {
  char buffer[16 * 1024];
  std::vector<WebEvent> events;
  while (s.fd >= 0) {
    const ssize_t n = recv(s.fd, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      Ended(s, "CONNECTION_CLOSED", n == 0 ? "the gateway closed the connection" : strerror(errno),
            false);
      return;
    }
    const int64_t received_ns = notify_bench::MonotonicNowNs();
    events.clear();
    if (absl::Status parsed =
            s.parser.Feed(absl::string_view(buffer, static_cast<size_t>(n)), &events);
        !parsed.ok()) {
      Ended(s, "BAD_RESPONSE", std::string(parsed.message()), false);
      return;
    }
    for (const WebEvent& event : events) {
      switch (event.kind) {
        case WebEvent::Kind::kHeaders:
          if (event.http_status == 200 && !event.trailers_only) {
            Established(s);
          }
          break;
        case WebEvent::Kind::kMessage: {
          WatchNotificationsResponse message;
          if (!message.ParseFromString(event.payload)) {
            Ended(s, "BAD_RESPONSE", "a message that is not a WatchNotificationsResponse", false);
            return;
          }
          {
            absl::MutexLock lock(&mu_);
            if (message.has_notification()) {
              ++counts_.notifications;
            } else {
              ++counts_.heartbeats;
            }
          }
          if (message.has_notification() && handler_) {
            handler_(s.index, message.notification(), received_ns);
          }
          break;
        }
        case WebEvent::Kind::kEnd: {
          std::string code;
          if (event.http_status != 200) {
            code = absl::StrCat("HTTP_", event.http_status);
          } else if (event.grpc_status < 0) {
            code = "NO_GRPC_STATUS";
          } else {
            code = absl::StatusCodeToString(static_cast<absl::StatusCode>(event.grpc_status));
          }
          const bool busy = !s.had_headers && (event.grpc_status == 8 || event.grpc_status == 14);
          Ended(s, code, event.grpc_message, busy);
          return;
        }
      }
    }
  }
}

void WebWatcherSet::Established(Stream& s) {
  s.had_headers = true;
  s.state = Stream::State::kLive;
  --connecting_;
  absl::MutexLock lock(&mu_);
  ++counts_.established;
  ++settled_;
}

void WebWatcherSet::CloseSocket(Stream& s) {
  if (s.fd >= 0) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
    close(s.fd);
    s.fd = -1;
  }
  if (s.state == Stream::State::kConnecting || s.state == Stream::State::kHeaders) {
    --connecting_;
  }
  s.state = Stream::State::kDone;
}

void WebWatcherSet::Ended(Stream& s, const std::string& code, const std::string& message,
                          bool busy) {
  CloseSocket(s);
  absl::MutexLock lock(&mu_);
  if (busy && establishing_ && !close_all_ && s.attempts < kMaxAttempts) {
    ++counts_.busy_retries;
    s.state = Stream::State::kWaiting;
    retries_.emplace_back(notify_bench::MonotonicNowNs() + BackoffNs(s.index, s.attempts), s.index);
    return;
  }
  ++counts_.ended;
  if (!s.had_headers) {
    ++settled_;
  }
  ++counts_.end_codes[code];
  if (counts_.first_end.empty()) {
    counts_.first_end = message.empty() ? code : absl::StrCat(code, ": ", message);
  }
}

void WebWatcherSet::CloseEverything() {
  pending_.clear();
  retries_.clear();
  for (auto& s : streams_) {
    CloseSocket(*s);
  }
}

}  // namespace crm::gateway_bench
