#include "tools/load/sql_load.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace crm::load {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kStatement[] = "crm_load";

std::unique_ptr<pqxx::connection> Connect(const SqlRunOptions& options) {
  auto conn = std::make_unique<pqxx::connection>(options.dsn);
  conn->prepare(kStatement, options.sql);
  conn->prepare_now(kStatement);
  return conn;
}

void FillParams(const SqlRunOptions& options, int64_t n, std::vector<std::string>& params) {
  params.resize(options.params.size());
  for (size_t i = 0; i < options.params.size(); ++i) {
    params[i] = Fill(options.params[i], n);
  }
}

// Runs the statement and copies out every field; returns the bytes read so
// the compiler cannot drop the copies.
size_t Execute(pqxx::connection& conn, const std::vector<std::string>& params, std::string& field) {
  pqxx::nontransaction tx(conn);
  const pqxx::result result =
      tx.exec_prepared(kStatement, pqxx::prepare::make_dynamic_params(params));
  size_t bytes = 0;
  for (const pqxx::row& row : result) {
    for (const pqxx::field& f : row) {
      if (!f.is_null()) {
        field.assign(f.c_str(), f.size());
        bytes += field.size();
      }
    }
  }
  return bytes;
}

struct Shared {
  const SqlRunOptions* options;
  std::atomic<uint64_t> seq{0};
  Clock::time_point measure_from;
  Clock::time_point measure_until;
  std::atomic<size_t> sink{0};
};

Recorder RunSlot(Shared& shared, std::unique_ptr<pqxx::connection> conn) {
  const SqlRunOptions& options = *shared.options;
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::string> params;
  std::string field;
  size_t bytes = 0;
  Recorder recorder;
  for (;;) {
    const Clock::time_point started = Clock::now();
    if (started >= shared.measure_until) {
      break;
    }
    FillParams(options,
               DrawNumber(options.numbers, shared.seq.fetch_add(1, std::memory_order_relaxed), rng),
               params);
    std::string error;
    try {
      if (conn == nullptr) {
        conn = Connect(options);
      }
      bytes += Execute(*conn, params, field);
    } catch (const pqxx::broken_connection&) {
      error = "broken_connection";
    } catch (const pqxx::sql_error& e) {
      error = e.sqlstate().empty() ? "sql_error" : e.sqlstate();
    } catch (const std::exception&) {
      error = "client_error";
    }
    const Clock::time_point now = Clock::now();
    const int64_t latency =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - started).count();
    if (now >= shared.measure_from && now < shared.measure_until) {
      if (error.empty()) {
        recorder.Ok(latency);
      } else {
        recorder.Error(error, latency);
      }
    }
    if (error == "broken_connection") {
      // Reconnect on the next call, after a pause so a dead server is not
      // hammered in a tight loop.
      conn.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  shared.sink += bytes;
  return recorder;
}

}  // namespace

absl::StatusOr<Summary> RunSql(const SqlRunOptions& options) {
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::string> params;
  std::string field;
  FillParams(options, DrawNumber(options.numbers, 0, rng), params);
  for (int i = 0; i < options.concurrency; ++i) {
    try {
      conns.push_back(Connect(options));
      Execute(*conns.back(), params, field);
    } catch (const pqxx::sql_error& e) {
      return absl::InvalidArgumentError(absl::StrCat("--sql failed (SQLSTATE ", e.sqlstate(),
                                                     "): ", e.what(), "  SQL: ", options.sql));
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to --dsn (connection ", i + 1, "): ", e.what()));
    }
  }
  Shared shared;
  shared.options = &options;
  shared.measure_from = Clock::now() + absl::ToChronoNanoseconds(options.warmup);
  shared.measure_until = shared.measure_from + absl::ToChronoNanoseconds(options.duration);
  std::vector<Recorder> recorders(conns.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < conns.size(); ++i) {
    threads.emplace_back([&, i] { recorders[i] = RunSlot(shared, std::move(conns[i])); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  return Summarise(std::move(recorders), options.duration);
}

}  // namespace crm::load
