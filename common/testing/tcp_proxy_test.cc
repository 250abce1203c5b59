// The fault-injecting proxy against a small echo server of the test's own
// (and PostgreSQL through it once): each mode as a client of the proxy sees it.

#include "common/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/pg_cluster.h"
#include "gtest/gtest.h"

namespace crm::testing {
namespace {

// Echoes every byte on every connection, on one thread.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoServer() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
    thread_.join();
    close(stop_fd_);
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  void Run() {
    std::vector<int> conns;
    while (true) {
      std::vector<pollfd> fds = {{.fd = stop_fd_, .events = POLLIN, .revents = 0},
                                 {.fd = listen_fd_, .events = POLLIN, .revents = 0}};
      for (int fd : conns) {
        fds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
      }
      poll(fds.data(), fds.size(), -1);
      if (fds[0].revents != 0) {
        break;
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        char buffer[4096];
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) {
          close(fds[i].fd);
          std::erase(conns, fds[i].fd);
        } else {
          [[maybe_unused]] ssize_t w = send(fds[i].fd, buffer, n, MSG_NOSIGNAL);
        }
      }
      if (fds[1].revents != 0) {
        conns.push_back(accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
      }
    }
    for (int fd : conns) {
      close(fd);
    }
  }

  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A blocking client socket connected to 127.0.0.1:port; -1 on failure.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct ReadResult {
  std::string data;
  bool eof = false;
  int error = 0;  // errno of a failed read
};

// Reads until `want` bytes arrived, the connection ends or `timeout` passes.
ReadResult ReadFor(int fd, size_t want, absl::Duration timeout) {
  ReadResult result;
  const absl::Time deadline = absl::Now() + timeout;
  while (result.data.size() < want) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      break;
    }
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) {
      continue;
    }
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      result.error = errno;
      break;
    }
    if (n == 0) {
      result.eof = true;
      break;
    }
    result.data.append(buffer, static_cast<size_t>(n));
  }
  return result;
}

bool SendAll(int fd, const std::string& data) {
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

class TcpProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto proxy = TcpProxy::Start("127.0.0.1", echo_.port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  EchoServer echo_;
  std::unique_ptr<TcpProxy> proxy_;
};

TEST_F(TcpProxyTest, PassForwardsBothWays) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "hello"));
  EXPECT_EQ(ReadFor(fd, 5, absl::Seconds(5)).data, "hello");
  // A larger transfer crosses many reads and writes.
  const std::string big(1 << 20, 'x');
  std::thread writer([&] { SendAll(fd, big); });
  EXPECT_EQ(ReadFor(fd, big.size(), absl::Seconds(10)).data.size(), big.size());
  writer.join();
  EXPECT_EQ(proxy_->accepted(), 1);
  close(fd);
}

TEST_F(TcpProxyTest, DelayAddsLatencyEachWay) {
  proxy_->SetMode(TcpProxy::Mode::kDelay, absl::Milliseconds(150));
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(SendAll(fd, "ping"));
  EXPECT_EQ(ReadFor(fd, 4, absl::Seconds(5)).data, "ping");
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(300));  // 150 ms there, 150 ms back
  EXPECT_LT(took, absl::Seconds(2));
  proxy_->SetMode(TcpProxy::Mode::kPass);
  const absl::Time again = absl::Now();
  ASSERT_TRUE(SendAll(fd, "pong"));
  EXPECT_EQ(ReadFor(fd, 4, absl::Seconds(5)).data, "pong");
  EXPECT_LT(absl::Now() - again, absl::Milliseconds(150));
  close(fd);
}

TEST_F(TcpProxyTest, DropIsASilentBlackholeThatNeverCloses) {
  const int existing = Connect(proxy_->port());
  ASSERT_GE(existing, 0);
  ASSERT_TRUE(SendAll(existing, "a"));
  ASSERT_EQ(ReadFor(existing, 1, absl::Seconds(5)).data, "a");

  proxy_->SetMode(TcpProxy::Mode::kDrop);
  ASSERT_TRUE(SendAll(existing, "lost"));
  ReadResult silent = ReadFor(existing, 1, absl::Milliseconds(300));
  EXPECT_EQ(silent.data, "");
  EXPECT_FALSE(silent.eof);
  EXPECT_EQ(silent.error, 0);

  // A new connection is accepted, then hears nothing, and is not closed.
  const int fresh = Connect(proxy_->port());
  ASSERT_GE(fresh, 0);
  ASSERT_TRUE(SendAll(fresh, "hello?"));
  silent = ReadFor(fresh, 1, absl::Milliseconds(300));
  EXPECT_EQ(silent.data, "");
  EXPECT_FALSE(silent.eof);
  EXPECT_EQ(silent.error, 0);
  EXPECT_EQ(proxy_->accepted(), 2);
  EXPECT_EQ(proxy_->open(), 2);

  // Back to pass: new connections forward again; the blackholed ones stay
  // silent (their streams lost bytes).
  proxy_->SetMode(TcpProxy::Mode::kPass);
  const int after = Connect(proxy_->port());
  ASSERT_GE(after, 0);
  ASSERT_TRUE(SendAll(after, "back"));
  EXPECT_EQ(ReadFor(after, 4, absl::Seconds(5)).data, "back");
  ASSERT_TRUE(SendAll(existing, "still lost"));
  EXPECT_EQ(ReadFor(existing, 1, absl::Milliseconds(200)).data, "");
  for (int fd : {existing, fresh, after}) {
    close(fd);
  }
}

TEST_F(TcpProxyTest, ResetSendsRstOnExistingAndNewConnections) {
  const int existing = Connect(proxy_->port());
  ASSERT_GE(existing, 0);
  ASSERT_TRUE(SendAll(existing, "a"));
  ASSERT_EQ(ReadFor(existing, 1, absl::Seconds(5)).data, "a");

  proxy_->SetMode(TcpProxy::Mode::kReset);
  EXPECT_EQ(ReadFor(existing, 1, absl::Seconds(5)).error, ECONNRESET);
  const int fresh = Connect(proxy_->port());
  if (fresh >= 0) {  // the kernel may complete the handshake before the reset
    EXPECT_EQ(ReadFor(fresh, 1, absl::Seconds(5)).error, ECONNRESET);
    close(fresh);
  }
  EXPECT_EQ(proxy_->open(), 0);

  proxy_->SetMode(TcpProxy::Mode::kPass);
  const int after = Connect(proxy_->port());
  ASSERT_GE(after, 0);
  ASSERT_TRUE(SendAll(after, "ok"));
  EXPECT_EQ(ReadFor(after, 2, absl::Seconds(5)).data, "ok");
  close(existing);
  close(after);
}

TEST_F(TcpProxyTest, HalfCloseReachesTheServer) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "bye"));
  shutdown(fd, SHUT_WR);
  // The echo server answers, sees end of stream and closes: so do we.
  ReadResult result = ReadFor(fd, 100, absl::Seconds(5));
  EXPECT_EQ(result.data, "bye");
  EXPECT_TRUE(result.eof);
  close(fd);
}

TEST_F(TcpProxyTest, StopClosesEverythingAndFreesThePort) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "x"));
  ASSERT_EQ(ReadFor(fd, 1, absl::Seconds(5)).data, "x");
  const int port = proxy_->port();
  proxy_->Stop();
  proxy_->Stop();  // idempotent
  EXPECT_TRUE(ReadFor(fd, 1, absl::Seconds(5)).eof);
  EXPECT_LT(Connect(port), 0);
  close(fd);
}

TEST(TcpProxyPostgresTest, CarriesALibpqSession) {
  auto cluster = PgCluster::Create();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto proxy = TcpProxy::Start("127.0.0.1", (*cluster)->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  pqxx::connection conn(absl::StrCat("host=127.0.0.1 port=", (*proxy)->port(),
                                     " dbname=postgres user=postgres connect_timeout=5"));
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT 40 + 2")[0][0].as<int>(), 42);
}

}  // namespace
}  // namespace crm::testing
