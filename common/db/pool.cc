#include "common/db/pool.h"

#include <pqxx/pqxx>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/db/errors.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"

namespace crm::db {

std::string WithConnectTimeout(const std::string& dsn, absl::Duration timeout) {
  if (absl::StartsWith(dsn, "postgres") || absl::StrContains(dsn, "connect_timeout")) {
    return dsn;
  }
  const int64_t seconds = std::max<int64_t>(2, absl::ToInt64Seconds(timeout));
  return absl::StrCat(dsn, dsn.empty() ? "" : " ", "connect_timeout=", seconds);
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

void Backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int base_ms = 5 << std::min(attempt, 5);
  std::uniform_int_distribution<int> jitter(base_ms / 2, base_ms);
  absl::SleepFor(absl::Milliseconds(jitter(rng)));
}

bool IsOpen(const pqxx::connection& conn) {
  try {
    return conn.is_open();
  } catch (...) {
    return false;
  }
}

}  // namespace

Pool::Pool(PoolOptions options)
    : options_(std::move(options)),
      dsn_(WithConnectTimeout(options_.dsn, options_.connect_timeout)) {}

Pool::~Pool() = default;

bool Pool::CanAcquire() const { return !idle_.empty() || open_ < options_.size; }

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Connect(bool count) {
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn_);
    {
      pqxx::nontransaction setup(*conn);
      setup.exec(absl::StrCat("SET statement_timeout = ",
                              absl::ToInt64Milliseconds(options_.statement_timeout)));
    }
    for (const PreparedStatement& statement : options_.statements) {
      conn->prepare(statement.name, statement.sql);
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
    return WithRetryDelay(absl::UnavailableError("database unavailable"), absl::Seconds(1));
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Acquire() {
  mu_.Lock();
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &Pool::CanAcquire), options_.acquire_timeout)) {
    mu_.Unlock();
    return WithRetryDelay(absl::UnavailableError("database busy: no free connection"),
                          absl::Milliseconds(200));
  }
  if (!idle_.empty()) {
    std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
    idle_.pop_back();
    mu_.Unlock();
    return conn;
  }
  ++open_;  // reserve the slot while connecting without the lock
  mu_.Unlock();
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Connect(/*count=*/true);
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return conn;
}

void Pool::Release(std::unique_ptr<pqxx::connection> conn) {
  if (!IsOpen(*conn)) {
    Discard(std::move(conn));
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

void Pool::Discard(std::unique_ptr<pqxx::connection> conn) {
  healthy_ = false;
  std::vector<std::unique_ptr<pqxx::connection>> stale;
  {
    absl::MutexLock lock(&mu_);
    stale.swap(idle_);
    open_ -= static_cast<int>(stale.size()) + 1;
  }
  // Destructors may block on the socket; run them without the lock.
  conn.reset();
  stale.clear();
}

absl::Status Pool::Transact(absl::FunctionRef<absl::Status(pqxx::work&)> fn, Isolation isolation) {
  bool retried_stale = false;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
    if (!conn.ok()) {
      return conn.status();
    }
    bool began = false;
    try {
      absl::Status result;
      {
        pqxx::work tx(**conn);  // sends BEGIN
        began = true;
        if (absl::string_view sql = IsolationSql(isolation); !sql.empty()) {
          tx.exec(std::string(sql));
        }
        result = fn(tx);
        if (result.ok()) {
          tx.commit();
        }
      }
      Release(*std::move(conn));
      return result;
    } catch (const pqxx::broken_connection& e) {
      Discard(*std::move(conn));
      // A connection that died while idle fails at BEGIN, before anything
      // ran: try once more on a fresh one. Later failures may have written.
      if (!began && !retried_stale) {
        retried_stale = true;
        continue;
      }
      return StatusFromException(e);
    } catch (const std::exception& e) {
      Release(*std::move(conn));
      if (IsRetryableSqlState(SqlState(e)) && attempt < options_.max_transaction_attempts) {
        Backoff(attempt);
        continue;
      }
      return StatusFromException(e);
    }
  }
}

absl::Status Pool::Read(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
    if (!conn.ok()) {
      return conn.status();
    }
    try {
      absl::Status result;
      {
        pqxx::nontransaction tx(**conn);
        result = fn(tx);
      }
      Release(*std::move(conn));
      return result;
    } catch (const pqxx::broken_connection& e) {
      Discard(*std::move(conn));
      if (attempt == 1) {
        continue;  // reads are safe to repeat on a fresh connection
      }
      return StatusFromException(e);
    } catch (const std::exception& e) {
      Release(*std::move(conn));
      return StatusFromException(e);
    }
  }
}

absl::Status Pool::Ping() {
  absl::MutexLock lock(&ping_mu_);
  // A second attempt on a fresh connection, so a probe connection that was
  // cut while the server stayed up does not report the database down.
  for (int attempt = 1;; ++attempt) {
    if (ping_conn_ == nullptr) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Connect(/*count=*/false);
      if (!conn.ok()) {
        return conn.status();
      }
      ping_conn_ = *std::move(conn);
    }
    try {
      pqxx::nontransaction tx(*ping_conn_);
      tx.exec("SELECT 1");
      healthy_ = true;
      return absl::OkStatus();
    } catch (const std::exception& e) {
      ping_conn_.reset();
      if (attempt == 2) {
        healthy_ = false;
        return StatusFromException(e);
      }
    }
  }
}

PoolStats Pool::stats() const {
  absl::MutexLock lock(&mu_);
  return PoolStats{.open = open_, .idle = static_cast<int>(idle_.size()), .connects = connects_};
}

}  // namespace crm::db
