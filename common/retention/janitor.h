#pragma once

// Scheduled deletion of rows that grow with traffic and expire (sign-in
// counters, expired refresh tokens, idempotency results, delivered outbox
// rows), off the request path: a thread of its own runs each task every
// `interval`, a small batch per transaction with a pause between batches, so
// a large backlog never holds locks or bloats one transaction, and requests
// keep the pool between batches.
//
//   Janitor janitor({.interval = absl::Minutes(10)});
//   janitor.Add(SqlPurge(&pool, "request_results",
//       "DELETE FROM request_results WHERE ctid IN (SELECT ctid FROM request_results "
//       "WHERE created_at < now() - make_interval(secs => $2) LIMIT $1)",
//       absl::Hours(24)));
//   janitor.Start();

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/db/pool.h"

namespace crm::retention {

// One kind of expired row. `run(batch)` deletes at most `batch` rows in one
// transaction and returns how many it deleted; fewer than `batch` means
// nothing is left for now.
struct PurgeTask {
  std::string name;
  absl::AnyInvocable<absl::StatusOr<int>(int batch)> run;
};

// A task that executes `sql` with the batch size as $1 and `age` in seconds
// as $2 (the age past which a row expires), and counts the rows it
// affected; the statement must delete at most $1 rows.
PurgeTask SqlPurge(db::Pool* pool, std::string name, std::string sql, absl::Duration age);

struct JanitorOptions {
  absl::Duration interval = absl::Minutes(10);
  int batch = 500;
  absl::Duration pause = absl::Milliseconds(20);  // between batches
  // A run of one task stops after this many batches, so one huge backlog
  // does not starve the others; the next run goes on.
  int max_batches_per_run = 200;
};

// From --purge_interval_seconds and --purge_batch_rows (each also settable as
// CRM_<SERVICE>_<FLAG>).
JanitorOptions JanitorOptionsFromFlags();

class Janitor {
 public:
  explicit Janitor(JanitorOptions options = {}) : options_(options) {}
  Janitor(const Janitor&) = delete;
  Janitor& operator=(const Janitor&) = delete;
  ~Janitor();  // Stop()

  // Before Start().
  void Add(PurgeTask task);

  // Runs every task once at once, then every `interval`.
  void Start();
  // Finishes the current batch and joins the thread. Idempotent.
  void Stop();

  // Runs every task to the end of its backlog (bounded by
  // max_batches_per_run) on the calling thread; returns rows deleted per
  // task. For tests and tools; not while Start()ed.
  std::map<std::string, int64_t> RunOnce();

  // Rows deleted so far, per task.
  std::map<std::string, int64_t> deleted() const;

 private:
  void Run();
  int64_t RunTask(PurgeTask& task);

  const JanitorOptions options_;
  std::vector<PurgeTask> tasks_;
  std::thread thread_;
  absl::Notification stop_;

  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> deleted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::retention
