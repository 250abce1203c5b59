#pragma once

// Client-side limits for a database that goes silent. A frozen server (or a
// network that drops packets) never answers, yet its kernel (or a middlebox)
// keeps the TCP connection open, so keepalives and tcp_user_timeout do not
// fire and libpq would wait forever; the server's statement_timeout cannot
// help either. These pieces bound every wait on the client side:
//
//  - ConnectBefore / ConnectPqxxBefore: connect (libpq's non-blocking API),
//    giving up at a deadline.
//  - AwaitResult: wait for a sent command's results until a deadline.
//  - SocketWatchdog: for blocking libpqxx calls, which have no deadline of
//    their own: a thread that shuts down a connection's socket when its bound
//    passes, so the blocked call fails as a lost connection.

#include <cstdint>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct pg_conn;

namespace crm::db {

// Opens a libpq connection to `dsn`, giving up at `deadline` (libpq's
// connect_timeout is not applied by this API: pass the smaller of the two).
// UNAVAILABLE carries libpq's message, which is for logs, not for clients.
// The caller owns the connection (PQfinish).
absl::StatusOr<pg_conn*> ConnectBefore(const std::string& dsn, absl::Time deadline);

// The same, as a libpqxx connection; throws pqxx::broken_connection. The
// connection never reconnects by itself (libpqxx's reactivation would do so
// without a deadline): once lost, it stays closed.
std::unique_ptr<pqxx::connection_base> ConnectPqxxBefore(const std::string& dsn,
                                                         absl::Time deadline);

// After a PQsend*: waits until every result of the command has arrived, at
// most until `deadline`. OK when none failed; UNAVAILABLE on a lost
// connection or no answer in time (the connection is then unusable: close
// it); the server's error otherwise, its message for logs only.
absl::Status AwaitResult(pg_conn* conn, absl::Time deadline);

class SocketWatchdog {
 public:
  SocketWatchdog();
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;
  ~SocketWatchdog();

  // Cuts socket `fd` (shutdown(2)) at `at` unless disarmed first. The
  // watchdog keeps a duplicate of the descriptor, so a socket libpq closes
  // meanwhile is never confused with a later one of the same number. Returns
  // an id for Disarm/CutNow; 0 (nothing armed) for an infinite `at` or a
  // closed socket.
  int64_t Arm(int fd, absl::Time at);
  // Whether the socket was cut. Call before the connection is reused.
  bool Disarm(int64_t id);
  // Cuts at once (e.g. on SIGTERM).
  void CutNow(int64_t id);

 private:
  struct Entry {
    int fd;
    absl::Time at;
    bool fired;
  };
  void Run();

  absl::Mutex mu_;
  absl::CondVar wake_;
  std::map<int64_t, Entry> armed_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time earliest_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crm::db
