#include "tools/load/stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace crm::load {

void Recorder::Merge(Recorder&& other) {
  if (latencies_ns_.empty()) {
    latencies_ns_ = std::move(other.latencies_ns_);
  } else {
    latencies_ns_.insert(latencies_ns_.end(), other.latencies_ns_.begin(),
                         other.latencies_ns_.end());
  }
  for (const auto& [code, count] : other.errors_) {
    errors_[code] += count;
  }
  other.latencies_ns_.clear();
  other.errors_.clear();
}

int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary Summarise(std::vector<Recorder> recorders, absl::Duration window) {
  Recorder all;
  for (Recorder& r : recorders) {
    all.Merge(std::move(r));
  }
  std::vector<int64_t> latencies = all.latencies_ns();
  std::sort(latencies.begin(), latencies.end());
  Summary s;
  s.calls = static_cast<int64_t>(latencies.size());
  s.errors_by_code = all.errors();
  for (const auto& [code, count] : s.errors_by_code) {
    s.errors += count;
  }
  s.seconds = absl::ToDoubleSeconds(window);
  s.rps = s.seconds > 0 ? static_cast<double>(s.calls) / s.seconds : 0;
  s.p50_us = static_cast<double>(Percentile(latencies, 0.50)) / 1e3;
  s.p90_us = static_cast<double>(Percentile(latencies, 0.90)) / 1e3;
  s.p99_us = static_cast<double>(Percentile(latencies, 0.99)) / 1e3;
  s.max_us = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e3;
  return s;
}

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

Summary MedianOf(const std::vector<Summary>& rounds) {
  Summary m;
  auto median = [&rounds](double Summary::*field) {
    std::vector<double> values;
    for (const Summary& r : rounds) {
      values.push_back(r.*field);
    }
    return Median(std::move(values));
  };
  m.rps = median(&Summary::rps);
  m.p50_us = median(&Summary::p50_us);
  m.p90_us = median(&Summary::p90_us);
  m.p99_us = median(&Summary::p99_us);
  m.max_us = median(&Summary::max_us);
  for (const Summary& r : rounds) {
    m.calls += r.calls;
    m.errors += r.errors;
    m.seconds += r.seconds;
    for (const auto& [code, count] : r.errors_by_code) {
      m.errors_by_code[code] += count;
    }
  }
  return m;
}

}  // namespace crm::load
