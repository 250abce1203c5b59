#include "common/db/connect.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace crm::db {

namespace {

// Waits for `events` on `fd` until `deadline` (or `cancel`); false when it
// passed.
bool WaitSocket(int fd, short events, absl::Time deadline,
                const std::atomic<bool>* cancel = nullptr) {
  while (true) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0 || (cancel != nullptr && cancel->load())) {
      return false;
    }
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int ready =
        poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, cancel != nullptr ? 100 : 1000)));
    if (ready > 0 || (ready < 0 && errno != EINTR)) {
      return true;  // ready, or an error libpq will report
    }
  }
}

std::string LibpqError(const PGconn* conn) {
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
}

}  // namespace

absl::StatusOr<PGconn*> ConnectBefore(const std::string& dsn, absl::Time deadline,
                                      const std::atomic<bool>* cancel) {
  PGconn* conn = PQconnectStart(dsn.c_str());
  if (conn == nullptr) {
    return absl::UnavailableError("out of memory for a database connection");
  }
  const auto fail = [conn](std::string why) {
    PQfinish(conn);
    return absl::UnavailableError(why);
  };
  PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
  while (true) {
    if (PQstatus(conn) == CONNECTION_BAD || polling == PGRES_POLLING_FAILED) {
      return fail(LibpqError(conn));
    }
    if (polling == PGRES_POLLING_OK) {
      return conn;
    }
    if (!WaitSocket(PQsocket(conn), polling == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline,
                    cancel)) {
      return fail("the database did not answer the connection in time");
    }
    polling = PQconnectPoll(conn);
  }
}

AdoptedConnection::AdoptedConnection(const std::string& options, PGconn* conn)
    : pqxx::connectionpolicy(options), conn_(conn) {}

AdoptedConnection::~AdoptedConnection() noexcept {
  if (conn_ != nullptr) {
    PQfinish(conn_);
  }
}

AdoptedConnection::handle AdoptedConnection::do_startconnect(handle orig) {
  if (orig != nullptr) {
    return orig;
  }
  if (conn_ == nullptr) {
    throw pqxx::broken_connection("database connection lost");
  }
  return std::exchange(conn_, nullptr);
}

BoundedConnection::BoundedConnection(const std::string& options, PGconn* conn)
    : pqxx::connection_base(policy_), policy_(options, conn) {
  init();
}

BoundedConnection::~BoundedConnection() noexcept { close(); }

std::unique_ptr<BoundedConnection> ConnectPqxxBefore(const std::string& dsn, absl::Time deadline,
                                                     const std::atomic<bool>* cancel) {
  absl::StatusOr<PGconn*> conn = ConnectBefore(dsn, deadline, cancel);
  if (!conn.ok()) {
    throw pqxx::broken_connection(std::string(conn.status().message()));
  }
  return std::make_unique<BoundedConnection>(dsn, *conn);
}

absl::Status AwaitResult(PGconn* conn, absl::Time deadline) {
  while (true) {
    if (PQconsumeInput(conn) != 1) {
      return absl::UnavailableError(LibpqError(conn));
    }
    if (PQisBusy(conn) == 0) {
      break;
    }
    if (!WaitSocket(PQsocket(conn), POLLIN, deadline)) {
      return absl::UnavailableError("the database did not answer in time");
    }
  }
  absl::Status status;
  while (PGresult* result = PQgetResult(conn)) {
    const ExecStatusType type = PQresultStatus(result);
    if (status.ok() && type != PGRES_COMMAND_OK && type != PGRES_TUPLES_OK) {
      status = absl::UnknownError(absl::StripTrailingAsciiWhitespace(PQresultErrorMessage(result)));
    }
    PQclear(result);
  }
  return status;
}

SocketWatchdog::SocketWatchdog() : thread_([this] { Run(); }) {}

SocketWatchdog::~SocketWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : armed_) {
    close(entry.fd);
  }
}

int64_t SocketWatchdog::Arm(int fd, absl::Time at) {
  if (fd < 0 || at == absl::InfiniteFuture()) {
    return 0;
  }
  const int copy = dup(fd);
  if (copy < 0) {
    return 0;
  }
  absl::MutexLock lock(&mu_);
  const int64_t id = ++next_id_;
  armed_.emplace(id, Entry{.fd = copy, .at = at, .fired = false});
  if (at < earliest_) {
    earliest_ = at;
    wake_.Signal();
  }
  return id;
}

bool SocketWatchdog::Disarm(int64_t id) {
  if (id == 0) {
    return false;
  }
  absl::MutexLock lock(&mu_);
  auto it = armed_.find(id);
  if (it == armed_.end()) {
    return false;
  }
  const bool fired = it->second.fired;
  close(it->second.fd);
  armed_.erase(it);
  return fired;
}

void SocketWatchdog::CutNow(int64_t id) {
  absl::MutexLock lock(&mu_);
  if (auto it = armed_.find(id); it != armed_.end() && !it->second.fired) {
    shutdown(it->second.fd, SHUT_RDWR);
    it->second.fired = true;
  }
}

void SocketWatchdog::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    absl::Time next = absl::InfiniteFuture();
    for (auto& [id, entry] : armed_) {
      if (entry.fired) {
        continue;
      }
      if (entry.at <= now) {
        // The blocked recv/poll in libpq wakes and sees the connection end.
        shutdown(entry.fd, SHUT_RDWR);
        entry.fired = true;
      } else {
        next = std::min(next, entry.at);
      }
    }
    earliest_ = next;
    wake_.WaitWithDeadline(&mu_, next);
  }
}

}  // namespace crm::db
