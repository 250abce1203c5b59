#include "tools/gateway_bench/http_load.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/gateway_bench/http_socket.h"
#include "tools/gateway_bench/web_response.h"

namespace crm::gateway_bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t Nanos(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// A connection up within this, or the run gives up (loopback: instant).
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);

// Connects `fd` (StartConnect's) or fails.
absl::Status AwaitConnected(int fd) {
  pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kConnectTimeout))) != 1) {
    return absl::UnavailableError("connect timed out");
  }
  if (const int error = ConnectError(fd); error != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(error)));
  }
  return absl::OkStatus();
}

struct Connection {
  int fd = -1;
  WebResponseParser parser;
  bool in_flight = false;
  size_t sent = 0;  // bytes of the request written so far
  int messages = 0;
  Clock::time_point started;
};

class LoadThread {
 public:
  LoadThread(const HttpLoadOptions* options, int connections) : options_(options) {
    for (int i = 0; i < connections; ++i) {
      connections_.push_back(std::make_unique<Connection>());
    }
  }
  LoadThread(const LoadThread&) = delete;
  LoadThread& operator=(const LoadThread&) = delete;
  ~LoadThread() {
    for (auto& c : connections_) {
      if (c->fd >= 0) {
        close(c->fd);
      }
    }
    if (epoll_ >= 0) {
      close(epoll_);
    }
  }

  // Opens every connection, before the clock starts.
  absl::Status Connect() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
    }
    for (auto& c : connections_) {
      if (absl::Status s = Open(*c); !s.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot connect to the gateway: ", s.message()));
      }
    }
    return absl::OkStatus();
  }

  void Run(Clock::time_point measure_from, Clock::time_point measure_until) {
    from_ = measure_from;
    until_ = measure_until;
    for (auto& c : connections_) {
      Send(*c);
    }
    std::vector<epoll_event> events(64);
    char buffer[64 * 1024];
    std::vector<WebEvent> parsed;
    while (true) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
      for (int i = 0; i < n; ++i) {
        Connection& c = *static_cast<Connection*>(events[i].data.ptr);
        if (c.fd < 0) {
          continue;
        }
        if ((events[i].events & EPOLLOUT) && c.in_flight) {
          Write(c);
        }
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          Read(c, buffer, sizeof(buffer), &parsed);
        }
      }
      const Clock::time_point now = Clock::now();
      bool busy = false;
      for (auto& c : connections_) {
        if (c->in_flight && now - c->started > absl::ToChronoNanoseconds(options_->deadline)) {
          Failed(*c, "DEADLINE_EXCEEDED");
        }
        busy = busy || c->in_flight;
      }
      if (!busy && now >= until_) {
        return;
      }
    }
  }

  load::Recorder TakeRecorder() { return std::move(recorder_); }
  // Connections that broke and could not be opened again.
  int lost() const { return lost_; }
  const std::string& last_error() const { return last_error_; }

 private:
  absl::Status Open(Connection& c) {
    absl::StatusOr<int> fd = StartConnect(options_->address);
    if (!fd.ok()) {
      return fd.status();
    }
    if (absl::Status s = AwaitConnected(*fd); !s.ok()) {
      close(*fd);
      return s;
    }
    c.fd = *fd;
    c.parser = WebResponseParser();
    epoll_event e = {.events = EPOLLIN, .data = {.ptr = &c}};
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &e);
    return absl::OkStatus();
  }

  void Close(Connection& c) {
    if (c.fd >= 0) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
    c.in_flight = false;
  }

  // Starts the connection's next call, unless the window is over.
  void Send(Connection& c) {
    c.in_flight = false;
    if (Clock::now() >= until_) {
      return;
    }
    if (c.fd < 0) {
      if (absl::Status s = Open(c); !s.ok()) {
        // The gateway is gone (or refuses): this connection stops, and the
        // run fails.
        ++lost_;
        last_error_ = std::string(s.message());
        return;
      }
    }
    c.in_flight = true;
    c.sent = 0;
    c.messages = 0;
    c.started = Clock::now();
    Write(c);
  }

  void Write(Connection& c) {
    const std::string& request = options_->request;
    while (c.sent < request.size()) {
      const ssize_t n = send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data = {.ptr = &c}};
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &e);
        return;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      Failed(c, "CONNECTION_CLOSED");
      return;
    }
    epoll_event e = {.events = EPOLLIN, .data = {.ptr = &c}};
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &e);
  }

  void Read(Connection& c, char* buffer, size_t size, std::vector<WebEvent>* parsed) {
    while (c.fd >= 0) {
      const ssize_t n = recv(c.fd, buffer, size, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        if (c.in_flight) {
          Failed(c, "CONNECTION_CLOSED");
        } else {
          Close(c);  // an idle keep-alive connection closed: reopened by the next Send
        }
        return;
      }
      parsed->clear();
      if (!c.parser.Feed(absl::string_view(buffer, static_cast<size_t>(n)), parsed).ok()) {
        Failed(c, "BAD_RESPONSE");
        return;
      }
      for (const WebEvent& event : *parsed) {
        if (event.kind == WebEvent::Kind::kMessage) {
          ++c.messages;
        } else if (event.kind == WebEvent::Kind::kEnd) {
          Completed(c, event);
          if (c.fd < 0) {
            return;
          }
        }
      }
    }
  }

  void Record(const Connection& c, const std::string& error) {
    const Clock::time_point now = Clock::now();
    if (now < from_ || now >= until_) {
      return;
    }
    const int64_t latency = Nanos(now - c.started);
    if (error.empty()) {
      recorder_.Ok(latency);
    } else {
      recorder_.Error(error, latency);
    }
  }

  void Completed(Connection& c, const WebEvent& end) {
    std::string error;
    if (end.http_status != 200) {
      error = absl::StrCat("HTTP_", end.http_status);
    } else if (end.grpc_status < 0) {
      error = "NO_GRPC_STATUS";
    } else if (end.grpc_status != 0) {
      error = absl::StatusCodeToString(static_cast<absl::StatusCode>(end.grpc_status));
    } else if (c.messages != 1) {
      error = "NO_MESSAGE";
    }
    Record(c, error);
    if (!end.keep_alive) {
      Close(c);
    }
    Send(c);
  }

  // The call in flight failed over HTTP: counted; a new connection carries on.
  void Failed(Connection& c, const std::string& code) {
    if (c.in_flight) {
      Record(c, code);
    }
    Close(c);
    Send(c);
  }

  const HttpLoadOptions* const options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  int epoll_ = -1;
  Clock::time_point from_;
  Clock::time_point until_;
  load::Recorder recorder_;
  int lost_ = 0;
  std::string last_error_;
};

}  // namespace

absl::StatusOr<load::Summary> RunHttpLoad(const HttpLoadOptions& options) {
  const int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<std::unique_ptr<LoadThread>> loops;
  for (int t = 0; t < threads; ++t) {
    // Connection s runs on thread s % threads.
    const int count = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    loops.push_back(std::make_unique<LoadThread>(&options, count));
    if (absl::Status s = loops.back()->Connect(); !s.ok()) {
      return s;
    }
  }
  const Clock::time_point from = Clock::now() + absl::ToChronoNanoseconds(options.warmup);
  const Clock::time_point until = from + absl::ToChronoNanoseconds(options.duration);
  std::vector<std::thread> running;
  for (auto& loop : loops) {
    running.emplace_back([&loop, from, until] { loop->Run(from, until); });
  }
  for (std::thread& t : running) {
    t.join();
  }
  std::vector<load::Recorder> recorders;
  int lost = 0;
  std::string error;
  for (auto& loop : loops) {
    recorders.push_back(loop->TakeRecorder());
    lost += loop->lost();
    if (!loop->last_error().empty()) {
      error = loop->last_error();
    }
  }
  if (lost > 0) {
    return absl::UnavailableError(
        absl::StrCat(lost, " of ", options.connections,
                     " connections to the gateway broke and could not be opened again (", error,
                     "): has it exited? (tools/crm status)"));
  }
  return load::Summarise(std::move(recorders), options.duration);
}

}  // namespace crm::gateway_bench
