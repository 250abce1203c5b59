#pragma once

// The raw SQL side of crm-load: the query a service method stands for, run
// straight against PostgreSQL at the same concurrency. libpqxx blocks, so
// each in-flight slot is one thread with its own connection; each connection
// prepares the statement once, executes it in a pqxx::nontransaction (no
// BEGIN/COMMIT round trips, as a service's reads) and reads every field of
// the result, so moving the rows to the client is paid for as a service would.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/load/request_template.h"
#include "tools/load/stats.h"

namespace crm::load {

struct SqlRunOptions {
  std::string dsn;
  std::string sql;                  // $1, $2, ... are the params
  std::vector<std::string> params;  // text values; {n} filled per call (one n for all)
  NumberSpec numbers;
  int concurrency = 1;
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
};

// Connects and prepares on every connection (and runs the statement once on
// each) before the clock starts: a bad DSN or SQL is an error here, not a
// run of failures. During the run errors are tallied by SQLSTATE, or
// "broken_connection" (the slot then reconnects).
absl::StatusOr<Summary> RunSql(const SqlRunOptions& options);

}  // namespace crm::load
