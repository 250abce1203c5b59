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

#include <atomic>
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
// The caller owns the connection (PQfinish). A non-null `cancel` that turns
// true gives up early (checked every 100 ms).
absl::StatusOr<pg_conn*> ConnectBefore(const std::string& dsn, absl::Time deadline,
                                       const std::atomic<bool>* cancel = nullptr);

// A libpqxx connection policy that adopts a libpq connection opened already
// and refuses to open another (libpqxx's reactivation would reconnect
// without a deadline): once lost, the connection stays closed.
class AdoptedConnection : public pqxx::connectionpolicy {
 public:
  AdoptedConnection(const std::string& options, pg_conn* conn);
  ~AdoptedConnection() noexcept override;
  handle do_startconnect(handle orig) override;

 private:
  pg_conn* conn_;
};

// A libpqxx connection made by ConnectPqxxBefore. Own it as this type:
// pqxx::connection_base's destructor is not virtual (deleting through it
// would leak the connection).
class BoundedConnection : public pqxx::connection_base {
 public:
  BoundedConnection(const std::string& options, pg_conn* conn);
  ~BoundedConnection() noexcept;

 private:
  AdoptedConnection policy_;
};

// The same, as a libpqxx connection; throws pqxx::broken_connection.
std::unique_ptr<BoundedConnection> ConnectPqxxBefore(const std::string& dsn, absl::Time deadline,
                                                     const std::atomic<bool>* cancel = nullptr);

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
