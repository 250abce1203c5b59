#include "common/db/pool.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <pqxx/pqxx>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/db/errors.h"
#include "common/deadline/call_scope.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"

namespace crm::db {

std::string WithConnectionDefaults(const std::string& dsn, absl::Duration connect_timeout) {
  if (absl::StartsWith(dsn, "postgres")) {
    return dsn;
  }
  const std::pair<const char*, std::string> defaults[] = {
      {"connect_timeout",
       absl::StrCat(std::max<int64_t>(2, absl::ToInt64Seconds(connect_timeout)))},
      {"keepalives", "1"},
      {"keepalives_idle", "5"},
      {"keepalives_interval", "2"},
      {"keepalives_count", "3"},
      {"tcp_user_timeout", "15000"},
  };
  std::string out = dsn;
  for (const auto& [key, value] : defaults) {
    if (!absl::StrContains(dsn, absl::StrCat(key, "="))) {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  }
  return out;
}

namespace {

absl::string_view IsolationSql(Isolation isolation) {
  switch (isolation) {
    case Isolation::kRepeatableRead:
      return "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case Isolation::kSerializable:
      return "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
    case Isolation::kReadCommitted:
      break;
  }
  return "";
}

// Sleeps before another attempt; false (without sleeping) when the call's
// deadline would pass first.
bool Backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int base_ms = 5 << std::min(attempt, 5);
  std::uniform_int_distribution<int> jitter(base_ms / 2, base_ms);
  const absl::Duration pause = absl::Milliseconds(jitter(rng));
  if (absl::Now() + pause >= CurrentDeadline()) {
    return false;
  }
  absl::SleepFor(pause);
  return true;
}

absl::Status DeadlineExceeded() {
  return absl::DeadlineExceededError("the call's deadline passed before the database answered");
}

// What is left of the call's deadline for one statement, rounded up to a
// step so calls with the same deadline usually find the session already set.
int64_t StatementTimeoutMs(absl::Duration pool_timeout) {
  const int64_t most = absl::ToInt64Milliseconds(pool_timeout);
  const absl::Time deadline = CurrentDeadline();
  if (deadline == absl::InfiniteFuture()) {
    return most;
  }
  const int64_t left = std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
  const int64_t step = left < 1000 ? 50 : (left < 10000 ? 250 : 1000);
  return std::min(most, (left + step - 1) / step * step);
}

bool IsOpen(const pqxx::connection_base& conn) {
  try {
    return conn.is_open();
  } catch (...) {
    return false;
  }
}

// A connection's socket armed on the pool's watchdog for one call.
class Watch {
 public:
  Watch(SocketWatchdog& watchdog, int fd, absl::Time at)
      : watchdog_(watchdog), id_(watchdog.Arm(fd, at)) {}
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  ~Watch() { Disarm(); }

  // Whether the connection was cut (then it must not be reused). Call before
  // the connection goes back to the pool, where another call may take it.
  bool Disarm() {
    if (id_ != 0) {
      fired_ = watchdog_.Disarm(id_);
      id_ = 0;
      if (fired_) {
        log::Warning("database did not answer in time; connection cut");
      }
    }
    return fired_;
  }

 private:
  SocketWatchdog& watchdog_;
  int64_t id_;
  bool fired_ = false;
};

}  // namespace

Pool::Pool(PoolOptions options)
    : options_(std::move(options)),
      dsn_(WithConnectionDefaults(options_.dsn, options_.connect_timeout)) {}

Pool::~Pool() {
  absl::MutexLock lock(&ping_mu_);
  if (ping_conn_ != nullptr) {
    PQfinish(ping_conn_);
  }
}

bool Pool::CanAcquire() const { return !idle_.empty() || open_ < options_.size; }

absl::Time Pool::CallBound() const {
  return std::min(CurrentDeadline(), absl::Now() + options_.statement_timeout) +
         options_.unresponsive_grace;
}

absl::StatusOr<std::unique_ptr<BoundedConnection>> Pool::Connect(bool count) {
  // Connecting waits no longer than the call that needs the connection.
  const absl::Time call_deadline = CurrentDeadline();
  const absl::Time deadline = std::min(absl::Now() + options_.connect_timeout, call_deadline);
  try {
    std::unique_ptr<BoundedConnection> conn = ConnectPqxxBefore(dsn_, deadline);
    Watch watch(watchdog_, conn->sock(), deadline + options_.unresponsive_grace);
    {
      pqxx::nontransaction setup(*conn);
      setup.exec(absl::StrCat("SET statement_timeout = ",
                              absl::ToInt64Milliseconds(options_.statement_timeout)));
    }
    for (const PreparedStatement& statement : options_.statements) {
      conn->prepare(statement.name, statement.sql);
    }
    if (watch.Disarm()) {
      throw pqxx::broken_connection("the database did not answer in time");
    }
    if (count) {
      absl::MutexLock lock(&mu_);
      ++connects_;
    }
    healthy_ = true;
    return conn;
  } catch (const std::exception& e) {
    healthy_ = false;
    log::Warning("database connection failed").Str("detail", e.what());
    if (absl::Now() >= call_deadline) {
      return DeadlineExceeded();
    }
    return WithRetryDelay(absl::UnavailableError("database unavailable"), absl::Seconds(1));
  }
}

absl::StatusOr<Pool::Conn> Pool::Acquire() {
  absl::Duration wait = options_.acquire_timeout;
  const absl::Duration left = CurrentDeadline() - absl::Now();
  const bool deadline_first = left < wait;
  if (deadline_first) {
    wait = std::max(left, absl::ZeroDuration());
  }
  mu_.Lock();
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &Pool::CanAcquire), wait)) {
    mu_.Unlock();
    if (deadline_first) {
      return DeadlineExceeded();
    }
    return WithRetryDelay(absl::UnavailableError("database busy: no free connection"),
                          absl::Milliseconds(200));
  }
  if (!idle_.empty()) {
    Conn conn = std::move(idle_.back());
    idle_.pop_back();
    mu_.Unlock();
    return conn;
  }
  ++open_;  // reserve the slot while connecting without the lock
  mu_.Unlock();
  absl::StatusOr<std::unique_ptr<BoundedConnection>> conn = Connect(/*count=*/true);
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return Conn{.conn = *std::move(conn),
              .statement_timeout_ms = absl::ToInt64Milliseconds(options_.statement_timeout)};
}

void Pool::Release(Conn conn) {
  if (!IsOpen(*conn.conn)) {
    Discard(std::move(conn));
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

void Pool::Return(Conn conn, bool cut) {
  if (cut) {
    Discard(std::move(conn));
  } else {
    Release(std::move(conn));
  }
}

void Pool::Discard(Conn conn) {
  healthy_ = false;
  std::vector<Conn> stale;
  {
    absl::MutexLock lock(&mu_);
    stale.swap(idle_);
    open_ -= static_cast<int>(stale.size()) + 1;
  }
  // Destructors may block on the socket; run them without the lock.
  conn.conn.reset();
  stale.clear();
}

void Pool::FitStatementTimeout(Conn& conn) {
  const int64_t wanted = StatementTimeoutMs(options_.statement_timeout);
  if (wanted == conn.statement_timeout_ms) {
    return;
  }
  pqxx::nontransaction set(*conn.conn);
  set.exec(absl::StrCat("SET statement_timeout = ", wanted));
  conn.statement_timeout_ms = wanted;
}

absl::Status Pool::Transact(absl::FunctionRef<absl::Status(pqxx::work&)> fn, Isolation isolation) {
  bool retried_stale = false;
  for (int attempt = 1;; ++attempt) {
    if (absl::Status alive = CheckCallAlive(); !alive.ok()) {
      return alive;
    }
    absl::StatusOr<Conn> conn = Acquire();
    if (!conn.ok()) {
      return conn.status();
    }
    Watch watch(watchdog_, conn->conn->sock(), CallBound());
    bool began = false;
    try {
      FitStatementTimeout(*conn);
      absl::Status result;
      {
        pqxx::work tx(*conn->conn);  // sends BEGIN
        began = true;
        if (absl::string_view sql = IsolationSql(isolation); !sql.empty()) {
          tx.exec(std::string(sql));
        }
        result = fn(tx);
        if (result.ok()) {
          tx.commit();
        }
      }
      Return(*std::move(conn), watch.Disarm());
      return result;
    } catch (const pqxx::broken_connection& e) {
      watch.Disarm();
      Discard(*std::move(conn));
      // A connection that died while idle fails at BEGIN, before anything
      // ran: try once more on a fresh one. Later failures may have written.
      if (!began && !retried_stale) {
        retried_stale = true;
        continue;
      }
      return StatusFromException(e);
    } catch (const std::exception& e) {
      Return(*std::move(conn), watch.Disarm());
      if (IsRetryableSqlState(SqlState(e)) && attempt < options_.max_transaction_attempts) {
        if (!Backoff(attempt)) {
          return DeadlineExceeded();
        }
        continue;
      }
      return StatusFromException(e);
    }
  }
}

absl::Status Pool::Read(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn) {
  for (int attempt = 1;; ++attempt) {
    if (absl::Status alive = CheckCallAlive(); !alive.ok()) {
      return alive;
    }
    absl::StatusOr<Conn> conn = Acquire();
    if (!conn.ok()) {
      return conn.status();
    }
    Watch watch(watchdog_, conn->conn->sock(), CallBound());
    try {
      FitStatementTimeout(*conn);
      absl::Status result;
      {
        pqxx::nontransaction tx(*conn->conn);
        result = fn(tx);
      }
      Return(*std::move(conn), watch.Disarm());
      return result;
    } catch (const pqxx::broken_connection& e) {
      watch.Disarm();
      Discard(*std::move(conn));
      if (attempt == 1) {
        continue;  // reads are safe to repeat on a fresh connection
      }
      return StatusFromException(e);
    } catch (const std::exception& e) {
      Return(*std::move(conn), watch.Disarm());
      return StatusFromException(e);
    }
  }
}

namespace {

// Runs SELECT 1 on `conn`, waiting at most until `deadline` for the answer.
absl::Status PingOnce(PGconn* conn, absl::Time deadline) {
  if (PQsendQuery(conn, "SELECT 1") != 1) {
    return absl::UnavailableError("database connection lost");
  }
  if (absl::Status status = AwaitResult(conn, deadline); !status.ok()) {
    log::Warning("database health check failed").Str("detail", status.message());
    return absl::UnavailableError(absl::IsUnavailable(status)
                                      ? "database did not answer the health check"
                                      : "database health check failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Pool::Ping() {
  absl::MutexLock lock(&ping_mu_);
  absl::Time deadline = absl::Now() + options_.ping_timeout;
  // A second attempt on a fresh connection, so a probe connection that was
  // cut while the server stayed up does not report the database down. A
  // timeout is not tried again: it would only wait as long once more.
  for (int attempt = 1;; ++attempt) {
    if (ping_conn_ == nullptr) {
      absl::StatusOr<PGconn*> conn = ConnectBefore(
          dsn_, absl::Now() + std::min(options_.connect_timeout, options_.ping_timeout));
      if (!conn.ok()) {
        log::Warning("database connection failed").Str("detail", conn.status().message());
        healthy_ = false;
        return WithRetryDelay(absl::UnavailableError("database unavailable"), absl::Seconds(1));
      }
      ping_conn_ = *conn;
      // The answer gets its own ping_timeout, however long connecting took.
      deadline = std::max(deadline, absl::Now() + options_.ping_timeout);
      PQsetNoticeProcessor(
          ping_conn_, [](void*, const char*) {}, nullptr);
    }
    absl::Status status = PingOnce(ping_conn_, deadline);
    if (status.ok()) {
      healthy_ = true;
      return status;
    }
    PQfinish(ping_conn_);
    ping_conn_ = nullptr;
    if (attempt == 2 || absl::Now() >= deadline) {
      healthy_ = false;
      return status;
    }
  }
}

PoolStats Pool::stats() const {
  absl::MutexLock lock(&mu_);
  return PoolStats{.open = open_, .idle = static_cast<int>(idle_.size()), .connects = connects_};
}

}  // namespace crm::db
