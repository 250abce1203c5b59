#pragma once

// Single-statement reads without a thread per query: one thread of the
// reader's own keeps a few libpq connections in pipeline mode, sends the
// queries of concurrent callers back to back (one write and one Sync for all
// those waiting), and hands each result to its caller's callback as it
// arrives. Under load many queries share one round trip, so a read costs
// less than on a connection of its own (Pool::Read), where every query pays
// its own send, wake-up and receive on both sides.
//
//   PipelinedReader reader({.dsn = dsn, .statements = {{"users_get", kSql}}});
//   reader.Read("users_get", {std::to_string(id)}, [](absl::StatusOr<Rows> rows) {
//     // on the reader's thread: decode, answer, never block
//   });
//
// For reads only (statements that change nothing): a query that was sent but
// whose answer was lost with its connection fails UNAVAILABLE, and one that
// an earlier error in the same pipeline aborted is sent again. Errors are the
// same client-safe statuses as the pool's (errors.h), the detail logged.
//
// A database that goes silent holds no read past its deadline: a read sent
// but unanswered when its call's deadline passes is answered
// DEADLINE_EXCEEDED then, and a connection with a read unanswered
// `unresponsive_grace` past that (or past statement_timeout, for reads
// without a deadline) is closed. Connecting, which the reader's thread does
// itself, waits at most connect_timeout, and no longer than the most patient
// read it would serve.

#include <poll.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/db/pool.h"

struct pg_conn;
struct pg_result;

namespace crm::db {

// The rows of one result. Cheap to move; frees the result.
//
// The reader asks for results in PostgreSQL's binary format: an integer,
// float or boolean arrives as its bytes rather than as text to print on one
// side and parse on the other (a page of 50 listings carries ~800 numbers).
// Text-like columns are the same bytes either way. Only the types Kind()
// names are allowed in a result: a read whose statement returns another type
// (numeric, a date, an array, jsonb...) fails INTERNAL, so cast such columns
// in the statement (to text, or to int8 as timestamp::MicrosColumn does).
class Rows {
 public:
  enum class Kind { kText, kInt, kFloat, kBool, kOther };
  explicit Rows(pg_result* result);
  Rows(Rows&&) = default;
  Rows& operator=(Rows&&) = default;

  int size() const;
  int columns() const;
  absl::string_view ColumnName(int column) const;
  bool IsNull(int row, int column) const;
  // True also for a column the result lacks.
  bool IsNull(int row, const char* column) const;
  // The text of a field ("" for NULL); valid while this Rows lives.
  absl::string_view Get(int row, int column) const;
  // The same by column name ("" for a column the result lacks).
  absl::string_view Get(int row, const char* column) const;
  // A column's number by name, or -1.
  int ColumnNumber(const char* column) const;
  // How a column's fields are encoded: kText for text format and for the
  // binary format of text-like types; kInt (2, 4 or 8 bytes), kFloat (4 or 8)
  // and kBool (1) are big-endian binary; kOther cannot be decoded.
  Kind ColumnKind(int column) const;
  // The first column of a kind that cannot be decoded, or -1.
  int FirstUndecodableColumn() const;

 private:
  struct Free {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Free> result_;
};

struct PipelinedReaderOptions {
  std::string dsn;
  int connections = 2;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(30);
  // See above: how long a connection may leave a read unanswered past its
  // deadline before it is closed.
  absl::Duration unresponsive_grace = absl::Seconds(1);
  // Reads waiting to be sent at once; past this, RESOURCE_EXHAUSTED.
  int max_queued = 4096;
  std::vector<PreparedStatement> statements;
  // Where the reader's loop runs: given the loop, runs it on a thread and
  // returns a function that waits until the loop has returned. Empty: a
  // thread of the reader's own. (The service kit lends the loop one of
  // gRPC's callback threads: server::LendCallbackThread.)
  std::function<std::function<void()>(std::function<void()> loop)> run_loop = nullptr;
};

class PipelinedReader {
 public:
  // Runs on the reader's thread: must not block (answer the RPC and return).
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Rows>) &&>;

  explicit PipelinedReader(PipelinedReaderOptions options);
  PipelinedReader(const PipelinedReader&) = delete;
  PipelinedReader& operator=(const PipelinedReader&) = delete;
  // Answers every read not yet answered (UNAVAILABLE) and stops the thread.
  ~PipelinedReader();

  // Runs the prepared `statement` with text `params` (nullopt is NULL).
  // `done` is called exactly once, on the reader's thread (or, when the
  // queue is full or the reader is stopping, at once on the caller's). A
  // read whose call's deadline (CallScope) passes before it is sent is
  // answered DEADLINE_EXCEEDED without being sent.
  void Read(std::string statement, std::vector<std::optional<std::string>> params, Callback done);

  // Runs the statement `sql` (a read; $1.. for `params`), like Read. Each
  // connection prepares a statement the first time it sees its text and
  // reuses it after, up to kMaxCachedStatements texts, so a query built per
  // call from a few shapes (a list's filters) is parsed and planned once,
  // like a named statement. Parameters, never values, in the text: each
  // distinct text takes a place in the cache.
  void ReadSql(std::string sql, std::vector<std::optional<std::string>> params, Callback done);

  static constexpr int kMaxCachedStatements = 256;

 private:
  struct Query {
    // A prepared statement's name, or (ad_hoc) the SQL text itself.
    std::string statement;
    bool ad_hoc = false;
    // Not a read: the preparation of the SQL text `statement` that the
    // next query needs, answered inside the reader.
    bool preparation = false;
    std::vector<std::optional<std::string>> params;
    Callback done;
    bool resent = false;
    // The calling thread's CallScope deadline: a read still queued when it
    // passes is answered DEADLINE_EXCEEDED, never sent; one in flight is
    // answered so then, and its result is dropped when it comes.
    absl::Time deadline = absl::InfiniteFuture();
    bool answered = false;
    // Once sent: if still unanswered by then, the connection is closed.
    absl::Time cut_at = absl::InfiniteFuture();
  };
  struct Connection {
    pg_conn* conn = nullptr;
    std::deque<Query> in_flight;  // sent, in the order their results come
    // The head query's answer while its results are still arriving.
    pg_result* head_result = nullptr;
    std::optional<absl::Status> head_failure;
    bool head_aborted = false;
    bool needs_flush = false;
    absl::Time retry_at = absl::InfinitePast();
    // SQL texts prepared on this connection (ReadSql) and their names.
    absl::flat_hash_map<std::string, std::string> prepared;
    // The error of a preparation that failed, for the read it was for.
    std::optional<absl::Status> preparation_failure;
    int64_t statements_made = 0;
  };

  void Enqueue(Query query);
  // Puts `query` (ad hoc) on `c`: prepared first when new to `c` and the
  // cache has room, sent unnamed (parsed and planned anew) when it has not.
  bool SendAdHoc(Connection& c, Query& query, const std::vector<const char*>& values);

  void Run();
  // Opens `c`, prepares the statements and enters pipeline mode, giving up
  // at `deadline`; false (and a retry time) when the database cannot be
  // reached.
  bool Open(Connection& c, absl::Time deadline);
  // Answers in-flight reads whose deadline passed and closes connections
  // silent past a read's bound; returns when to look again.
  absl::Time Expire(absl::Time now);
  // Fails what `c` has in flight (UNAVAILABLE) and closes it.
  void Close(Connection& c, absl::string_view why);
  // Sends `queries` on `c`, followed by one Sync.
  void Send(Connection& c, std::deque<Query>& queries);
  // Reads what arrived on `c` and completes the queries it answers.
  void Receive(Connection& c, std::deque<Query>& resend);
  void Flush(Connection& c);

  const PipelinedReaderOptions options_;
  const std::string dsn_;
  int wake_fd_ = -1;  // eventfd: new queries or stop

  absl::Mutex mu_;
  std::deque<Query> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<Connection> connections_;  // the reader's thread only
  std::function<void()> join_;           // waits for Run() to return
};

}  // namespace crm::db
