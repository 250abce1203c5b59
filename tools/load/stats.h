#pragma once

// Per-call latencies and error counts. Each client thread keeps its own
// Recorder (no locks on the hot path); they are merged and sorted once at the
// end, so percentiles are exact rather than bucketed.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace crm::load {

class Recorder {
 public:
  void Ok(int64_t latency_ns) { latencies_ns_.push_back(latency_ns); }
  // A failed call: its latency still counts (a fast error is still a call),
  // and `code` ("NOT_FOUND", an SQLSTATE, ...) is tallied.
  void Error(const std::string& code, int64_t latency_ns) {
    latencies_ns_.push_back(latency_ns);
    ++errors_[code];
  }

  // Moves `other`'s figures into this one.
  void Merge(Recorder&& other);

  const std::vector<int64_t>& latencies_ns() const { return latencies_ns_; }
  const std::map<std::string, int64_t>& errors() const { return errors_; }

 private:
  std::vector<int64_t> latencies_ns_;
  std::map<std::string, int64_t> errors_;
};

// One run's figures (or, from MedianOf, several runs').
struct Summary {
  int64_t calls = 0;   // completed inside the measured window, OK or not
  int64_t errors = 0;  // those that failed
  std::map<std::string, int64_t> errors_by_code;
  double seconds = 0;  // length of the measured window
  double rps = 0;      // calls / seconds
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;

  double error_ratio() const {
    return calls == 0 ? 0 : static_cast<double>(errors) / static_cast<double>(calls);
  }
};

// Nearest-rank percentile of ascending `sorted`: the smallest value with at
// least a fraction `q` (0..1] of all values at or below it; 0 when empty.
int64_t Percentile(const std::vector<int64_t>& sorted, double q);

// Merges the threads' recorders and summarises calls completed in `window`.
Summary Summarise(std::vector<Recorder> recorders, absl::Duration window);

// The median of each figure across rounds taken on its own (throughput and
// every percentile); calls, errors and seconds are totals over the rounds.
Summary MedianOf(const std::vector<Summary>& rounds);

// Median of `values` (mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> values);

}  // namespace crm::load
