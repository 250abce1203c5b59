#include "common/retention/janitor.h"

#include <algorithm>
#include <utility>

#include "absl/flags/flag.h"
#include "common/log/log.h"

ABSL_FLAG(int32_t, purge_interval_seconds, 600,
          "how often expired rows (sign-in counters, expired sessions, idempotency results, "
          "delivered outbox rows) are purged");
ABSL_FLAG(int32_t, purge_batch_rows, 500, "rows deleted per purge transaction");

namespace crm::retention {

JanitorOptions JanitorOptionsFromFlags() {
  JanitorOptions options;
  options.interval = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_purge_interval_seconds)));
  options.batch = std::max(1, absl::GetFlag(FLAGS_purge_batch_rows));
  return options;
}

PurgeTask SqlPurge(db::Pool* pool, std::string name, std::string sql, absl::Duration age) {
  return PurgeTask{
      .name = std::move(name),
      .run = [pool, sql = std::move(sql), seconds = absl::ToDoubleSeconds(age)](int batch) {
        return db::TransactFor(*pool, [&](pqxx::work& tx) -> absl::StatusOr<int> {
          return static_cast<int>(tx.exec_params(sql, batch, seconds).affected_rows());
        });
      }};
}

Janitor::~Janitor() { Stop(); }

void Janitor::Add(PurgeTask task) { tasks_.push_back(std::move(task)); }

void Janitor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Janitor::Stop() {
  if (!stop_.HasBeenNotified()) {
    stop_.Notify();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Janitor::Run() {
  do {
    for (PurgeTask& task : tasks_) {
      if (stop_.HasBeenNotified()) {
        return;
      }
      RunTask(task);
    }
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

std::map<std::string, int64_t> Janitor::RunOnce() {
  std::map<std::string, int64_t> counts;
  for (PurgeTask& task : tasks_) {
    counts[task.name] = RunTask(task);
  }
  return counts;
}

int64_t Janitor::RunTask(PurgeTask& task) {
  int64_t total = 0;
  for (int i = 0; i < options_.max_batches_per_run; ++i) {
    absl::StatusOr<int> deleted = task.run(options_.batch);
    if (!deleted.ok()) {
      // The next run tries again; expired rows only wait longer.
      log::Warning("purge failed").Str("task", task.name).Str("error", deleted.status().ToString());
      break;
    }
    total += *deleted;
    if (*deleted < options_.batch) {
      break;
    }
    if (stop_.WaitForNotificationWithTimeout(options_.pause)) {
      break;
    }
  }
  if (total > 0) {
    log::Info("purged expired rows").Str("task", task.name).Int("rows", total);
    absl::MutexLock lock(&mu_);
    deleted_[task.name] += total;
  }
  return total;
}

std::map<std::string, int64_t> Janitor::deleted() const {
  absl::MutexLock lock(&mu_);
  return deleted_;
}

}  // namespace crm::retention
