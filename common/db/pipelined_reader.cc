#include "common/db/pipelined_reader.h"

#include <libpq-fe.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/db/errors.h"
#include "common/deadline/call_scope.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"

namespace crm::db {
namespace {

// A connection that cannot be opened is tried again after this long, so a
// database that is down costs one connect attempt per interval, not per read.
constexpr absl::Duration kReconnectDelay = absl::Milliseconds(500);
constexpr absl::string_view kStopped = "reader stopped";

absl::Status Unavailable() {
  return WithRetryDelay(absl::UnavailableError("database unavailable"), absl::Seconds(1));
}

// A failed result as a client-safe status; the server's message is logged.
absl::Status StatusFromResult(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state != nullptr ? state : "";
  log::Warning("database read failed")
      .Str("sqlstate", sqlstate)
      .Str("detail", PQresultErrorMessage(result));
  const absl::StatusCode code =
      sqlstate.empty() ? absl::StatusCode::kInternal : CodeForSqlState(sqlstate);
  if (code == absl::StatusCode::kUnavailable) {
    return Unavailable();
  }
  return absl::Status(code, code == absl::StatusCode::kDeadlineExceeded
                                ? "database statement timed out"
                                : "database error");
}

}  // namespace

Rows::Rows(PGresult* result) : result_(result) {}

void Rows::Free::operator()(PGresult* result) const { PQclear(result); }

int Rows::size() const { return PQntuples(result_.get()); }

int Rows::columns() const { return PQnfields(result_.get()); }

absl::string_view Rows::ColumnName(int column) const {
  const char* name = PQfname(result_.get(), column);
  return name == nullptr ? absl::string_view() : absl::string_view(name);
}

bool Rows::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) == 1;
}

absl::string_view Rows::Get(int row, int column) const {
  return absl::string_view(PQgetvalue(result_.get(), row, column),
                           static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

Rows::Kind Rows::ColumnKind(int column) const {
  if (PQfformat(result_.get(), column) == 0) {
    return Kind::kText;
  }
  // Type OIDs from PostgreSQL's pg_type.dat (stable across versions).
  switch (PQftype(result_.get(), column)) {
    case 16:  // bool
      return Kind::kBool;
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return Kind::kInt;
    case 700:  // float4
    case 701:  // float8
      return Kind::kFloat;
    case 18:    // "char"
    case 19:    // name
    case 25:    // text
    case 114:   // json
    case 705:   // unknown (an untyped literal)
    case 1042:  // bpchar
    case 1043:  // varchar
      return Kind::kText;
    default:
      return Kind::kOther;
  }
}

int Rows::FirstUndecodableColumn() const {
  for (int i = 0; i < columns(); ++i) {
    if (ColumnKind(i) == Kind::kOther) {
      return i;
    }
  }
  return -1;
}

int Rows::ColumnNumber(const char* column) const { return PQfnumber(result_.get(), column); }

bool Rows::IsNull(int row, const char* column) const {
  const int index = PQfnumber(result_.get(), column);
  return index < 0 || IsNull(row, index);
}

absl::string_view Rows::Get(int row, const char* column) const {
  const int index = PQfnumber(result_.get(), column);
  return index < 0 ? absl::string_view() : Get(row, index);
}

PipelinedReader::PipelinedReader(PipelinedReaderOptions options)
    : options_(std::move(options)),
      dsn_(WithConnectionDefaults(options_.dsn, options_.connect_timeout)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      connections_(std::max(1, options_.connections)) {
  if (wake_fd_ < 0) {
    log::Error("eventfd failed; the database reader polls instead").Str("error", strerror(errno));
  }
  if (options_.run_loop) {
    join_ = options_.run_loop([this] { Run(); });
  } else {
    join_ = [thread = std::make_shared<std::thread>([this] { Run(); })] { thread->join(); };
  }
}

PipelinedReader::~PipelinedReader() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  join_();
  if (wake_fd_ >= 0) {
    close(wake_fd_);
  }
}

void PipelinedReader::Read(std::string statement, std::vector<std::optional<std::string>> params,
                           Callback done) {
  Enqueue(Query{.statement = std::move(statement),
                .params = std::move(params),
                .done = std::move(done),
                .deadline = CurrentDeadline()});
}

void PipelinedReader::ReadSql(std::string sql, std::vector<std::optional<std::string>> params,
                              Callback done) {
  Enqueue(Query{.statement = std::move(sql),
                .ad_hoc = true,
                .params = std::move(params),
                .done = std::move(done),
                .deadline = CurrentDeadline()});
}

void PipelinedReader::Enqueue(Query query) {
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && static_cast<int>(queued_.size()) < options_.max_queued) {
      queued_.push_back(std::move(query));
      // One wake-up per batch: the thread takes everything queued when it runs.
      wake = !wake_pending_;
      wake_pending_ = true;
      query.done = nullptr;
    }
  }
  if (query.done != nullptr) {
    std::move(query.done)(
        WithRetryDelay(absl::ResourceExhaustedError("database busy"), absl::Milliseconds(100)));
    return;
  }
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
}

bool PipelinedReader::Open(Connection& c, absl::Time deadline) {
  absl::StatusOr<PGconn*> opened = ConnectBefore(dsn_, deadline);
  if (!opened.ok()) {
    log::Warning("database connection failed")
        .Str("what", "connect")
        .Str("detail", opened.status().message());
    c.retry_at = absl::Now() + kReconnectDelay;
    return false;
  }
  PGconn* conn = *opened;
  const auto fail = [&](absl::string_view what, absl::string_view detail) {
    log::Warning("database connection failed").Str("what", what).Str("detail", detail);
    PQfinish(conn);
    c.retry_at = absl::Now() + kReconnectDelay;
    return false;
  };
  // Server notices (and the FATAL of a terminated backend) would go to
  // stderr as raw text; failures reach the log through the results instead.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  // A server that answered the connection answers these at once; the floor
  // keeps a connect that used up the budget from failing its set-up.
  const absl::Time setup_deadline = std::max(deadline, absl::Now() + absl::Milliseconds(500));
  const std::string setup = absl::StrCat("SET statement_timeout = ",
                                         absl::ToInt64Milliseconds(options_.statement_timeout));
  if (PQsendQuery(conn, setup.c_str()) != 1) {
    return fail("set statement_timeout", PQerrorMessage(conn));
  }
  if (absl::Status set = AwaitResult(conn, setup_deadline); !set.ok()) {
    return fail("set statement_timeout", set.message());
  }
  for (const PreparedStatement& statement : options_.statements) {
    if (PQsendPrepare(conn, statement.name.c_str(), statement.sql.c_str(), 0, nullptr) != 1) {
      return fail(statement.name, PQerrorMessage(conn));
    }
    if (absl::Status prepared = AwaitResult(conn, setup_deadline); !prepared.ok()) {
      return fail(statement.name, prepared.message());
    }
  }
  if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
    return fail("pipeline mode", PQerrorMessage(conn));
  }
  c.conn = conn;
  c.needs_flush = false;
  return true;
}

void PipelinedReader::Close(Connection& c, absl::string_view why) {
  if (c.conn != nullptr && why != kStopped) {
    log::Warning("database connection lost")
        .Str("what", why)
        .Str("detail", PQerrorMessage(c.conn))
        .Int("reads_failed", static_cast<int64_t>(c.in_flight.size()));
  }
  if (c.conn != nullptr) {
    PQfinish(c.conn);
    c.conn = nullptr;
  }
  if (c.head_result != nullptr) {
    PQclear(c.head_result);
    c.head_result = nullptr;
  }
  c.head_failure.reset();
  c.head_aborted = false;
  // Sent but unanswered: whether it ran is unknown, so it is not resent.
  for (Query& query : c.in_flight) {
    if (!query.answered) {
      std::move(query.done)(Unavailable());
    }
  }
  c.in_flight.clear();
  c.needs_flush = false;
  c.prepared.clear();  // a new connection has none of them
  c.preparation_failure.reset();
}

bool PipelinedReader::SendAdHoc(Connection& c, Query& query,
                                const std::vector<const char*>& values) {
  const int n = static_cast<int>(values.size());
  if (auto it = c.prepared.find(query.statement); it != c.prepared.end()) {
    return PQsendQueryPrepared(c.conn, it->second.c_str(), n, values.data(), nullptr, nullptr,
                               /*resultFormat=*/1) == 1;
  }
  if (static_cast<int>(c.prepared.size()) >= kMaxCachedStatements) {
    return PQsendQueryParams(c.conn, query.statement.c_str(), n, nullptr, values.data(), nullptr,
                             nullptr, /*resultFormat=*/1) == 1;
  }
  std::string name = absl::StrCat("crm_sql_", ++c.statements_made);
  if (PQsendPrepare(c.conn, name.c_str(), query.statement.c_str(), 0, nullptr) != 1 ||
      PQsendQueryPrepared(c.conn, name.c_str(), n, values.data(), nullptr, nullptr,
                          /*resultFormat=*/1) != 1) {
    return false;
  }
  // The preparation's own result comes first; it answers nobody.
  Query preparation;
  preparation.statement = query.statement;
  preparation.preparation = true;
  preparation.answered = true;
  preparation.cut_at = absl::Now() + options_.statement_timeout + options_.unresponsive_grace;
  c.in_flight.push_back(std::move(preparation));
  c.prepared.emplace(query.statement, std::move(name));
  return true;
}

void PipelinedReader::Send(Connection& c, std::deque<Query>& queries) {
  std::vector<const char*> values;
  while (!queries.empty()) {
    Query& query = queries.front();
    values.clear();
    for (const std::optional<std::string>& param : query.params) {
      values.push_back(param.has_value() ? param->c_str() : nullptr);
    }
    const bool sent = query.ad_hoc ? SendAdHoc(c, query, values)
                                   : PQsendQueryPrepared(c.conn, query.statement.c_str(),
                                                         static_cast<int>(values.size()),
                                                         values.data(), nullptr, nullptr,
                                                         /*resultFormat=*/1) == 1;
    if (!sent) {
      Close(c, "send");
      return;  // the rest stay queued for another connection
    }
    query.cut_at = std::min(query.deadline, absl::Now() + options_.statement_timeout) +
                   options_.unresponsive_grace;
    c.in_flight.push_back(std::move(query));
    queries.pop_front();
  }
  // One Sync for the batch: it ends the pipeline segment and flushes.
  if (PQpipelineSync(c.conn) != 1) {
    Close(c, "sync");
    return;
  }
  c.needs_flush = true;
  Flush(c);
}

void PipelinedReader::Flush(Connection& c) {
  const int flushed = PQflush(c.conn);
  if (flushed < 0) {
    Close(c, "flush");
    return;
  }
  c.needs_flush = flushed == 1;
}

void PipelinedReader::Receive(Connection& c, std::deque<Query>& resend) {
  if (PQconsumeInput(c.conn) != 1) {
    Close(c, "receive");
    return;
  }
  // Each query's results end with a NULL; each Sync adds a PIPELINE_SYNC
  // result, which carries nothing for a caller.
  // What has come of the head query so far lives in `c`: its results may
  // span several reads.
  PGresult*& rows = c.head_result;
  std::optional<absl::Status>& failure = c.head_failure;
  bool& aborted = c.head_aborted;
  int empty = 0;
  while (!c.in_flight.empty() && PQisBusy(c.conn) == 0) {
    PGresult* result = PQgetResult(c.conn);
    if (result == nullptr) {
      if (rows == nullptr && !failure.has_value() && !aborted) {
        // A NULL between a Sync and the next query's first result is
        // harmless; a second one in a row means nothing more has arrived.
        if (++empty >= 2) {
          break;
        }
        continue;
      }
      empty = 0;
      Query query = std::move(c.in_flight.front());
      c.in_flight.pop_front();
      if (rows != nullptr && (aborted || failure.has_value() || query.answered)) {
        PQclear(rows);
        rows = nullptr;
      }
      if (query.preparation) {
        // Failed or never run: the text is prepared again when next read.
        if (aborted || failure.has_value()) {
          c.prepared.erase(query.statement);
        }
        // The text itself is wrong: its read (next in line, aborted) fails
        // with this error rather than being sent again to fail the same way.
        if (failure.has_value()) {
          c.preparation_failure = *std::move(failure);
        }
      } else if (c.preparation_failure.has_value()) {
        if (!query.answered) {
          std::move(query.done)(*std::move(c.preparation_failure));
        }
        c.preparation_failure.reset();
      } else if (query.answered) {
        // Its caller was told DEADLINE_EXCEEDED already.
      } else if (aborted && !query.resent) {
        // An earlier query of the same segment failed; this one never ran.
        query.resent = true;
        resend.push_back(std::move(query));
      } else if (aborted) {
        std::move(query.done)(absl::AbortedError("database read aborted; retry"));
      } else if (failure.has_value()) {
        std::move(query.done)(*std::move(failure));
      } else {
        Rows result(rows);
        if (const int column = result.FirstUndecodableColumn(); column >= 0) {
          log::Error("database read returns a column binary reads cannot decode; cast it")
              .Str("statement", query.statement)
              .Str("column", result.ColumnName(column));
          std::move(query.done)(absl::InternalError("database error"));
        } else {
          std::move(query.done)(std::move(result));
        }
      }
      rows = nullptr;
      failure.reset();
      aborted = false;
      continue;
    }
    empty = 0;
    switch (PQresultStatus(result)) {
      case PGRES_PIPELINE_SYNC:
        PQclear(result);
        break;
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        if (rows == nullptr) {
          rows = result;
        } else {
          PQclear(result);
        }
        break;
      case PGRES_PIPELINE_ABORTED:
        aborted = true;
        PQclear(result);
        break;
      default:
        failure = StatusFromResult(result);
        PQclear(result);
        break;
    }
  }
  // Drain a trailing Sync result so the connection is idle again.
  while (c.in_flight.empty() && PQisBusy(c.conn) == 0) {
    PGresult* result = PQgetResult(c.conn);
    if (result == nullptr) {
      break;
    }
    PQclear(result);
  }
  if (PQstatus(c.conn) != CONNECTION_OK) {
    Close(c, "status");
  }
}

absl::Time PipelinedReader::Expire(absl::Time now) {
  absl::Time next = absl::InfiniteFuture();
  for (Connection& c : connections_) {
    if (c.conn == nullptr) {
      continue;
    }
    bool silent = false;
    for (Query& query : c.in_flight) {
      if (now >= query.cut_at) {
        silent = true;
        break;
      }
      next = std::min(next, query.cut_at);
      if (query.answered) {
        continue;
      }
      if (now >= query.deadline) {
        query.answered = true;
        std::move(query.done)(
            absl::DeadlineExceededError("the call's deadline passed before the database answered"));
      } else {
        next = std::min(next, query.deadline);
      }
    }
    if (silent) {
      // Pipelined reads cannot be cancelled one by one, and a server this
      // late is gone or frozen: the connection goes, a new one is opened.
      Close(c, "no answer in time");
    }
  }
  return next;
}

void PipelinedReader::Run() {
  std::vector<pollfd> fds;
  std::deque<Query> batch;
  while (true) {
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      wake_pending_ = false;
      while (!queued_.empty()) {
        batch.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
    }
    // Reads whose callers have given up are not sent.
    const absl::Time now = absl::Now();
    for (auto it = batch.begin(); it != batch.end();) {
      if (now >= it->deadline) {
        std::move(it->done)(absl::DeadlineExceededError("the call's deadline passed"));
        it = batch.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping) {
      break;
    }
    // The least busy open connection (opening one if none is) takes the batch.
    if (!batch.empty()) {
      absl::Time patience = absl::InfinitePast();
      for (const Query& query : batch) {
        patience = std::max(patience, query.deadline);
      }
      const absl::Time open_by = std::min(now + options_.connect_timeout, patience);
      Connection* target = nullptr;
      for (Connection& c : connections_) {
        if (c.conn == nullptr && absl::Now() >= c.retry_at) {
          Open(c, open_by);
        }
        if (c.conn != nullptr &&
            (target == nullptr || c.in_flight.size() < target->in_flight.size())) {
          target = &c;
        }
      }
      if (target != nullptr) {
        Send(*target, batch);
      } else {
        for (Query& query : batch) {
          std::move(query.done)(Unavailable());
        }
        batch.clear();
      }
    }
    // Queries left by a connection that failed mid-send go out at once.
    // Without an eventfd (the process is out of descriptors) new reads are
    // noticed by polling every millisecond instead.
    int timeout_ms = !batch.empty() ? 0 : (wake_fd_ < 0 ? 1 : -1);
    // Before the poll set is built: this may close connections.
    const absl::Time now_after = absl::Now();
    if (const absl::Time next = Expire(now_after);
        next != absl::InfiniteFuture() && timeout_ms != 0) {
      const int64_t wait_ms = std::max<int64_t>(
          1, absl::ToInt64Milliseconds(absl::Ceil(next - now_after, absl::Milliseconds(1))));
      timeout_ms =
          static_cast<int>(timeout_ms < 0 ? wait_ms : std::min<int64_t>(timeout_ms, wait_ms));
    }
    fds.clear();
    fds.push_back(pollfd{.fd = wake_fd_, .events = POLLIN, .revents = 0});
    for (Connection& c : connections_) {
      if (c.conn != nullptr) {
        const short events = static_cast<short>(POLLIN | (c.needs_flush ? POLLOUT : 0));
        fds.push_back(pollfd{.fd = PQsocket(c.conn), .events = events, .revents = 0});
      }
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      log::Error("poll failed in the database reader").Str("error", strerror(errno));
    }
    if ((fds[0].revents & POLLIN) != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
    }
    size_t index = 1;
    for (Connection& c : connections_) {
      if (c.conn == nullptr) {
        continue;
      }
      const short revents = fds[index++].revents;
      if ((revents & POLLOUT) != 0 && c.needs_flush) {
        Flush(c);
      }
      if (c.conn != nullptr && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        Receive(c, batch);
      }
    }
  }
  // Stopping: nothing waits for an answer that will not come.
  for (Connection& c : connections_) {
    Close(c, kStopped);
  }
  for (Query& query : batch) {
    std::move(query.done)(Unavailable());
  }
  absl::MutexLock lock(&mu_);
  for (Query& query : queued_) {
    std::move(query.done)(Unavailable());
  }
  queued_.clear();
}

}  // namespace crm::db
