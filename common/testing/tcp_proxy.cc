#include "common/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"

namespace crm::testing {

namespace {

// Bytes read ahead of a slow writer before the proxy stops reading that side.
constexpr size_t kMaxBuffered = 256 << 10;
constexpr size_t kReadSize = 64 << 10;

struct Chunk {
  std::string data;
  size_t offset = 0;
  absl::Time release;  // written no earlier than this (kDelay)
};

struct Side {
  int fd = -1;
  std::deque<Chunk> out;  // waiting to be written to fd
  size_t out_bytes = 0;
  bool read_eof = false;  // fd's peer has finished sending
  bool write_shut = false;
};

struct Link {
  Side client;
  Side upstream;
  bool connecting = false;
  bool blackhole = false;
  bool dead = false;
};

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void CloseFd(int& fd, bool reset) {
  if (fd < 0) {
    return;
  }
  if (reset) {
    const linger hard{.l_onoff = 1, .l_linger = 0};  // close sends RST
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  }
  close(fd);
  fd = -1;
}

void CloseLink(Link& link, bool reset) {
  CloseFd(link.client.fd, reset);
  CloseFd(link.upstream.fd, reset);
  link.dead = true;
}

bool Releasable(const Side& side, absl::Time now) {
  return side.fd >= 0 && !side.out.empty() && side.out.front().release <= now;
}

// Reads what `from` has; forwards it to `to` unless the link is a blackhole.
// False on an error (the link is then closed).
bool ReadSide(Link& link, Side& from, Side& to, absl::Time release) {
  char buffer[kReadSize];
  const ssize_t n = read(from.fd, buffer, sizeof(buffer));
  if (n > 0) {
    if (!link.blackhole) {
      to.out.push_back(Chunk{
          .data = std::string(buffer, static_cast<size_t>(n)), .offset = 0, .release = release});
      to.out_bytes += static_cast<size_t>(n);
    }
    return true;
  }
  if (n == 0) {
    from.read_eof = true;
    return true;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool WriteSide(Side& side, absl::Time now) {
  while (Releasable(side, now)) {
    Chunk& chunk = side.out.front();
    const ssize_t n = send(side.fd, chunk.data.data() + chunk.offset,
                           chunk.data.size() - chunk.offset, MSG_NOSIGNAL);
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    chunk.offset += static_cast<size_t>(n);
    side.out_bytes -= static_cast<size_t>(n);
    if (chunk.offset == chunk.data.size()) {
      side.out.pop_front();
    }
  }
  return true;
}

short Events(const Link& link, const Side& side, const Side& other, bool is_upstream,
             absl::Time now) {
  if (side.fd < 0) {
    return 0;
  }
  if (is_upstream && link.connecting) {
    return POLLOUT;
  }
  short events = 0;
  if (!side.read_eof && (link.blackhole || other.out_bytes < kMaxBuffered)) {
    events |= POLLIN;
  }
  if (Releasable(side, now)) {
    events |= POLLOUT;
  }
  return events;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& target_host,
                                                          int target_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("proxy listener: ", error));
  }
  SetNonBlocking(fd);
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, wake, ntohs(addr.sin_port), target_host, target_port));
}

TcpProxy::TcpProxy(int listen_fd, int wake_fd, int port, std::string target_host, int target_port)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      target_host_(std::move(target_host)),
      target_port_(target_port) {
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() { Stop(); }

void TcpProxy::SetMode(Mode mode, absl::Duration delay) {
  int64_t wanted = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return;
    }
    mode_ = mode;
    delay_ = delay;
    wanted = ++requested_;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  absl::MutexLock lock(&mu_);
  const auto applied = [this, wanted]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || applied_ >= wanted;
  };
  mu_.Await(absl::Condition(&applied));
}

int TcpProxy::accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

int TcpProxy::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

void TcpProxy::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (!thread_.joinable()) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
}

void TcpProxy::Run() {
  std::vector<std::unique_ptr<Link>> links;
  std::vector<pollfd> fds;
  Mode mode = Mode::kPass;
  absl::Duration delay;
  int64_t seen = 0;
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(target_port_));
  inet_pton(AF_INET, target_host_ == "localhost" ? "127.0.0.1" : target_host_.c_str(),
            &target.sin_addr);

  while (true) {
    bool changed = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        break;
      }
      if (requested_ != seen) {
        mode = mode_;
        delay = delay_;
        seen = requested_;
        changed = true;
      }
    }
    if (changed) {
      for (std::unique_ptr<Link>& link : links) {
        if (mode == Mode::kReset) {
          CloseLink(*link, /*reset=*/true);
        } else if (mode == Mode::kDrop) {
          // What is buffered is lost too: the blackhole starts now.
          link->blackhole = true;
          link->client.out.clear();
          link->client.out_bytes = 0;
          link->upstream.out.clear();
          link->upstream.out_bytes = 0;
        }
      }
    }
    std::erase_if(links, [](const std::unique_ptr<Link>& link) { return link->dead; });
    {
      absl::MutexLock lock(&mu_);
      applied_ = seen;
      open_ = static_cast<int>(links.size());
    }

    const absl::Time now = absl::Now();
    absl::Time next_release = absl::InfiniteFuture();
    fds.clear();
    fds.push_back(pollfd{.fd = wake_fd_, .events = POLLIN, .revents = 0});
    fds.push_back(pollfd{.fd = listen_fd_, .events = POLLIN, .revents = 0});
    for (const std::unique_ptr<Link>& link : links) {
      fds.push_back(pollfd{.fd = link->client.fd,
                           .events = Events(*link, link->client, link->upstream, false, now),
                           .revents = 0});
      fds.push_back(pollfd{.fd = link->upstream.fd,
                           .events = Events(*link, link->upstream, link->client, true, now),
                           .revents = 0});
      for (const Side* side : {&link->client, &link->upstream}) {
        if (side->fd >= 0 && !side->out.empty() && side->out.front().release > now) {
          next_release = std::min(next_release, side->out.front().release);
        }
      }
    }
    int timeout_ms = -1;
    if (next_release != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          1, absl::ToInt64Milliseconds(absl::Ceil(next_release - now, absl::Milliseconds(1)))));
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
    }

    const absl::Time after = absl::Now();
    const absl::Time release = mode == Mode::kDelay ? after + delay : after;
    const size_t polled = links.size();
    for (size_t i = 0; i < polled; ++i) {
      Link& link = *links[i];
      if (link.dead) {
        continue;
      }
      const short client_events = fds[2 + 2 * i].revents;
      const short upstream_events = fds[3 + 2 * i].revents;
      bool ok = true;
      if (link.connecting && upstream_events != 0) {
        int error = 0;
        socklen_t len = sizeof(error);
        getsockopt(link.upstream.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
          CloseLink(link, /*reset=*/false);
          continue;
        }
        link.connecting = false;
      }
      if (client_events != 0) {
        ok = ReadSide(link, link.client, link.upstream, release);
        if (link.blackhole && (!ok || link.client.read_eof)) {
          CloseLink(link, /*reset=*/false);
          continue;
        }
      }
      if (ok && !link.connecting && link.upstream.fd >= 0 && upstream_events != 0) {
        ok = ReadSide(link, link.upstream, link.client, release);
        if (link.blackhole && (!ok || link.upstream.read_eof)) {
          // The server's side went away; the client must not hear of it.
          CloseFd(link.upstream.fd, /*reset=*/false);
          ok = true;
        }
      }
      if (ok && !link.blackhole) {
        ok = WriteSide(link.client, after) && (link.connecting || WriteSide(link.upstream, after));
      }
      if (!ok) {
        CloseLink(link, /*reset=*/false);
        continue;
      }
      if (link.blackhole) {
        continue;
      }
      // Half-closes travel once what came before them is written.
      for (auto [from, to] :
           {std::pair{&link.client, &link.upstream}, std::pair{&link.upstream, &link.client}}) {
        if (from->read_eof && to->out.empty() && !to->write_shut && to->fd >= 0 &&
            !link.connecting) {
          shutdown(to->fd, SHUT_WR);
          to->write_shut = true;
        }
      }
      if (link.client.read_eof && link.upstream.read_eof && link.client.out.empty() &&
          link.upstream.out.empty()) {
        CloseLink(link, /*reset=*/false);
      }
    }

    if ((fds[1].revents & POLLIN) != 0) {
      while (true) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          break;
        }
        {
          absl::MutexLock lock(&mu_);
          ++accepted_;
        }
        int client_fd = fd;
        if (mode == Mode::kReset) {
          CloseFd(client_fd, /*reset=*/true);
          continue;
        }
        auto link = std::make_unique<Link>();
        link->client.fd = client_fd;
        if (mode == Mode::kDrop) {
          link->blackhole = true;  // accepted, and never a byte
          links.push_back(std::move(link));
          continue;
        }
        const int one = 1;
        setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        const int up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        link->upstream.fd = up;
        if (up < 0) {
          CloseLink(*link, /*reset=*/false);
          continue;
        }
        setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(up, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) != 0) {
          if (errno != EINPROGRESS) {
            CloseLink(*link, /*reset=*/false);
            continue;
          }
          link->connecting = true;
        }
        links.push_back(std::move(link));
      }
    }
  }
  for (std::unique_ptr<Link>& link : links) {
    CloseLink(*link, /*reset=*/false);
  }
  close(listen_fd_);
  absl::MutexLock lock(&mu_);
  open_ = 0;
  applied_ = requested_;
}

}  // namespace crm::testing
