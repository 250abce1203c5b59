#pragma once

// A fixed-size pool of libpqxx connections shared by a service's request
// handlers. It hides connection loss: a connection that breaks is dropped and
// a new one opened on next use, so when PostgreSQL restarts the RPCs in
// between fail UNAVAILABLE and the service recovers by itself.
//
//   Pool pool({.dsn = dsn, .size = 8, .statements = {{"get_user", kGetUserSql}}});
//   absl::Status s = pool.Transact([&](pqxx::work& tx) {
//     pqxx::result r = tx.exec_prepared("get_user", id);
//     ...
//     return absl::OkStatus();
//   });
//
// Callbacks may run more than once (retries after serialization failures,
// deadlocks, or a stale connection), so they must assign their outputs, not
// append to them. Calls block: run them off gRPC's threads.
//
// Calls honour the current call's deadline and cancellation (CallScope, set
// by RunBlocking): the wait for a connection and the retries stop at the
// deadline, each statement's timeout is cut to what is left of it (rounded
// up a little, so that calls with the same deadline rarely need a new SET),
// and a call whose client has gone is not started again. The answer is then
// DEADLINE_EXCEEDED or CANCELLED.
//
// A database that goes silent (frozen, or packets dropped: no answer and no
// error) cannot hold a caller longer than its deadline plus
// `unresponsive_grace`: connecting gives up at the deadline, and a
// statement still unanswered by then has its connection cut (see
// connect.h), so the call fails and the thread is free again. Work outside
// any call (no deadline) gets `statement_timeout` instead.

#include <atomic>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/db/connect.h"

struct pg_conn;

namespace crm::db {

// A named statement prepared on every connection of the pool.
struct PreparedStatement {
  std::string name;
  std::string sql;
};

struct PoolOptions {
  std::string dsn;
  int size = 8;
  // How long a caller waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(5);
  // Server-side cap on any statement; a runaway query cannot hold a connection.
  absl::Duration statement_timeout = absl::Seconds(30);
  // How long Ping waits for the database's answer (a frozen server never
  // answers, and the kernel keeps its connection open), and at most for its
  // probe connection to open.
  absl::Duration ping_timeout = absl::Seconds(2);
  // How long past its bound (the call's deadline, or statement_timeout) a
  // Transact or Read may wait for the database before its connection is cut.
  // Long enough for the server's own statement_timeout (rounded up, see
  // above) to answer first when the server is merely slow.
  absl::Duration unresponsive_grace = absl::Seconds(1);
  int max_transaction_attempts = 5;
  std::vector<PreparedStatement> statements;
};

// The settings every connection of the project gets unless the operator's
// key=value DSN sets them: connect_timeout, and TCP keepalives plus
// tcp_user_timeout, so that a database that goes silent (host frozen,
// packets dropped) is noticed in ~15 s instead of the kernel's minutes.
// URIs (postgresql://...) are left alone.
std::string WithConnectionDefaults(const std::string& dsn, absl::Duration connect_timeout);

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

struct PoolStats {
  int open = 0;  // connections held by the pool, idle or in use
  int idle = 0;
  int64_t connects = 0;  // connections ever opened (not counting the health probe's)
};

class Pool {
 public:
  explicit Pool(PoolOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Runs `fn` in a transaction and commits when it returns OK; a non-OK
  // status rolls back and is returned as is. Serialization failures and
  // deadlocks are retried with back-off; other database errors come back as
  // client-safe statuses (see errors.h).
  absl::Status Transact(absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                        Isolation isolation = Isolation::kReadCommitted);

  // Runs `fn` outside a transaction block (each statement commits alone):
  // the cheap path for single-statement reads.
  absl::Status Read(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn);

  // Checks the database on a connection of its own (so a busy pool does not
  // look like a dead database) and updates healthy(). Bounded: a database
  // that does not answer within ping_timeout (plus up to ping_timeout more
  // when the probe must reconnect) is UNAVAILABLE.
  absl::Status Ping();

  // The last known state: false after a connection failure until a
  // connection or Ping succeeds again.
  bool healthy() const { return healthy_.load(); }

  PoolStats stats() const;

 private:
  // A pooled connection and the statement_timeout its session has now.
  struct Conn {
    std::unique_ptr<BoundedConnection> conn;
    int64_t statement_timeout_ms = 0;
  };

  absl::StatusOr<std::unique_ptr<BoundedConnection>> Connect(bool count);
  // When a Transact or Read that starts now must have been answered.
  absl::Time CallBound() const;
  absl::StatusOr<Conn> Acquire();
  void Release(Conn conn);
  // Release, or Discard when the watchdog cut the connection.
  void Return(Conn conn, bool cut);
  // Closes `conn` and every idle connection: when one connection breaks, the
  // server has usually gone away and the others are stale too.
  void Discard(Conn conn);
  // Sets the session's statement_timeout to what the call's deadline leaves
  // (at most the pool's); throws like any statement.
  void FitStatementTimeout(Conn& conn);
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PoolOptions options_;
  const std::string dsn_;

  mutable absl::Mutex mu_;
  std::vector<Conn> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t connects_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex ping_mu_;
  pg_conn* ping_conn_ ABSL_GUARDED_BY(ping_mu_) = nullptr;  // libpq: waited on with a limit

  std::atomic<bool> healthy_{false};
  SocketWatchdog watchdog_;  // cuts connections of calls past their bound
};

// Transact and Read for a result, so a repository method is one expression:
//
//   absl::StatusOr<UserRecord> UserRepository::Get(int64_t id) {
//     return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<UserRecord> {
//       pqxx::result row = tx.exec_prepared("users_get", id);
//       if (row.empty()) return NotFound();
//       return ToUser(row[0]);
//     });
//   }
//
// `fn` returns absl::StatusOr<T>: OK commits and is the answer; an error
// rolls back and is returned. Like Transact, `fn` may run more than once.
template <typename Fn>
auto TransactFor(Pool& pool, Fn fn, Isolation isolation = Isolation::kReadCommitted)
    -> decltype(fn(std::declval<pqxx::work&>())) {
  std::optional<decltype(fn(std::declval<pqxx::work&>()))> result;
  const absl::Status status = pool.Transact(
      [&](pqxx::work& tx) {
        result.emplace(fn(tx));
        return result->status();
      },
      isolation);
  if (!status.ok()) {
    return status;
  }
  return *std::move(result);
}

template <typename Fn>
auto ReadFor(Pool& pool, Fn fn) -> decltype(fn(std::declval<pqxx::nontransaction&>())) {
  std::optional<decltype(fn(std::declval<pqxx::nontransaction&>()))> result;
  const absl::Status status = pool.Read([&](pqxx::nontransaction& tx) {
    result.emplace(fn(tx));
    return result->status();
  });
  if (!status.ok()) {
    return status;
  }
  return *std::move(result);
}

}  // namespace crm::db
