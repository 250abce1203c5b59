#include "tools/gateway_bench/http_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace crm::gateway_bench {
namespace {

int PollMs(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return ms <= 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 1000));
}

// Waits until `fd` is ready for `events` (poll, EINTR retried): false at
// `deadline`.
bool WaitReady(int fd, short events, absl::Time deadline) {
  while (true) {
    pollfd p = {.fd = fd, .events = events, .revents = 0};
    const int n = poll(&p, 1, PollMs(deadline));
    if (n == 1) {
      return true;
    }
    if ((n == 0 || errno == EINTR) && absl::Now() < deadline) {
      continue;
    }
    return false;
  }
}

}  // namespace

absl::StatusOr<sockaddr_in> ParseAddress(absl::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  const std::string host(host_port.substr(0, colon == absl::string_view::npos ? 0 : colon));
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
      port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", host_port, "' is not an IPv4 address and port (127.0.0.1:8080)"));
  }
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

absl::StatusOr<int> StartConnect(const sockaddr_in& address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 &&
      errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(error)));
  }
  return fd;
}

int ConnectError(int fd) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    return errno;
  }
  return error;
}

absl::Status SendAll(int fd, absl::string_view bytes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("send timed out");
    }
    WaitReady(fd, POLLOUT, deadline);
  }
  return absl::OkStatus();
}

absl::Status RaiseOpenFileLimit(int needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", strerror(errno)));
  }
  const rlim_t want = static_cast<rlim_t>(needed);
  if (limit.rlim_cur >= want) {
    return absl::OkStatus();
  }
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) {
    return absl::FailedPreconditionError(absl::StrCat(
        "needs ", needed, " open files; the hard limit is ", limit.rlim_max, " (ulimit -Hn)"));
  }
  limit.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("setrlimit: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WebEvent>> CallOnce(const sockaddr_in& address,
                                               absl::string_view request, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> fd = StartConnect(address);
  if (!fd.ok()) {
    return fd.status();
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{*fd};
  if (!WaitReady(*fd, POLLOUT, deadline)) {
    return absl::UnavailableError("cannot connect: timed out");
  }
  if (const int error = ConnectError(*fd); error != 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect: ", strerror(error)));
  }
  if (absl::Status sent = SendAll(*fd, request, timeout); !sent.ok()) {
    return sent;
  }
  WebResponseParser parser;
  std::vector<WebEvent> events;
  char buffer[16 * 1024];
  while (events.empty() || events.back().kind != WebEvent::Kind::kEnd) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no whole answer within ", absl::FormatDuration(timeout)));
    }
    if (!WaitReady(*fd, POLLIN, deadline)) {
      continue;
    }
    const ssize_t n = recv(*fd, buffer, sizeof(buffer), 0);
    if (n == 0) {
      return absl::UnavailableError("the gateway closed the connection before the answer ended");
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
    if (absl::Status s = parser.Feed(absl::string_view(buffer, static_cast<size_t>(n)), &events);
        !s.ok()) {
      return s;
    }
  }
  return events;
}

}  // namespace crm::gateway_bench
