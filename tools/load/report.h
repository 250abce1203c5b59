#pragma once

// What crm-load prints: an aligned table for people (the default), or with
// --json exactly one JSON object on one line for scripts.

#include <string>

#include "nlohmann/json.hpp"
#include "tools/load/pair.h"
#include "tools/load/stats.h"

namespace crm::load {

// What was run, printed above the figures (and merged into the JSON).
struct RunInfo {
  std::string mode;    // "grpc", "sql" or "pair"
  std::string method;  // "/package.Service/Method" (gRPC and pair)
  std::string target;
  std::string sql;
  int concurrency = 0;
  int channels = 0;
  int threads = 0;
  int rounds = 0;
  double warmup_s = 0;
  double duration_s = 0;
  bool preserialised = false;
};

nlohmann::json SummaryJson(const Summary& s);
// "NOT_FOUND 12, UNAVAILABLE 1", or "0".
std::string ErrorsText(const Summary& s);

std::string FormatRun(const RunInfo& info, const Summary& s);
nlohmann::json RunJson(const RunInfo& info, const Summary& s);

// Says on stderr when a run is mostly errors (more than `max_ratio` of its
// calls) or has none at all, and returns false then; a few errors only warn.
bool CheckErrors(const std::string& what, const Summary& s, double max_ratio);

std::string FormatPair(const RunInfo& info, const PairResult& r);
nlohmann::json PairJson(const RunInfo& info, const PairResult& r);

}  // namespace crm::load
