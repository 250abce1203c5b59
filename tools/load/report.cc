#include "tools/load/report.h"

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace crm::load {
namespace {

// One decimal: enough for µs and calls/s, and short JSON.
double Round1(double v) { return std::round(v * 10) / 10; }

constexpr char kRowFormat[] = "  %-34s %10s %9s %9s %9s %10s %9s  %s\n";
// The same widths, one byte wider where a heading holds "µ" (two bytes).
constexpr char kHeaderFormat[] = "  %-34s %10s %10s %10s %10s %11s %9s  %s\n";

std::string Header() {
  return absl::StrFormat(kHeaderFormat, "", "calls/s", "p50 µs", "p90 µs", "p99 µs", "max µs",
                         "calls", "errors");
}

std::string Row(const std::string& name, const Summary& s) {
  return absl::StrFormat(kRowFormat, name, absl::StrFormat("%.0f", s.rps),
                         absl::StrFormat("%.1f", s.p50_us), absl::StrFormat("%.1f", s.p90_us),
                         absl::StrFormat("%.1f", s.p99_us), absl::StrFormat("%.1f", s.max_us),
                         absl::StrCat(s.calls), ErrorsText(s));
}

std::string Title(const RunInfo& info) {
  std::string what;
  if (info.mode == "sql") {
    what = absl::StrCat("raw SQL: ", info.sql);
  } else {
    what = absl::StrCat(info.method, " on ", info.target);
  }
  std::string shape = absl::StrCat(info.concurrency, " in flight");
  if (info.mode != "sql") {
    absl::StrAppend(&shape, " (", info.channels, info.channels == 1 ? " channel, " : " channels, ",
                    info.threads, info.threads == 1 ? " thread)" : " threads)");
  }
  return absl::StrFormat(
      "crm-load %s: %s\n  %s, %.3gs warm-up + %.3gs measured%s%s\n\n", info.mode, what, shape,
      info.warmup_s, info.duration_s,
      info.rounds > 0 ? absl::StrCat(" per run, ", info.rounds, " rounds") : "",
      info.mode != "sql" && !info.preserialised ? ", requests built per call" : "");
}

// "UserService/GetUser" from "/crm.auth.v1.UserService/GetUser".
std::string ShortMethod(const std::string& path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.', slash);
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

}  // namespace

std::string ErrorsText(const Summary& s) {
  if (s.errors_by_code.empty()) {
    return "0";
  }
  std::vector<std::string> parts;
  for (const auto& [code, count] : s.errors_by_code) {
    parts.push_back(absl::StrCat(code, " ", count));
  }
  return absl::StrJoin(parts, ", ");
}

nlohmann::json SummaryJson(const Summary& s) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, count] : s.errors_by_code) {
    errors[code] = count;
  }
  return {{"calls", s.calls},           {"ok", s.calls - s.errors},   {"errors", errors},
          {"seconds", s.seconds},       {"rps", Round1(s.rps)},       {"p50_us", Round1(s.p50_us)},
          {"p90_us", Round1(s.p90_us)}, {"p99_us", Round1(s.p99_us)}, {"max_us", Round1(s.max_us)}};
}

namespace {

nlohmann::json InfoJson(const RunInfo& info) {
  nlohmann::json j = {{"mode", info.mode},
                      {"concurrency", info.concurrency},
                      {"warmup_s", info.warmup_s},
                      {"duration_s", info.duration_s}};
  if (info.mode != "sql") {
    j["method"] = info.method;
    j["target"] = info.target;
    j["channels"] = info.channels;
    j["threads"] = info.threads;
    j["preserialised"] = info.preserialised;
  }
  if (info.mode != "grpc") {
    j["sql"] = info.sql;
  }
  if (info.rounds > 0) {
    j["rounds"] = info.rounds;
  }
  return j;
}

}  // namespace

std::string FormatRun(const RunInfo& info, const Summary& s) {
  return absl::StrCat(Title(info), Header(),
                      Row(info.mode == "sql" ? "raw SQL" : ShortMethod(info.method), s));
}

nlohmann::json RunJson(const RunInfo& info, const Summary& s) {
  nlohmann::json j = InfoJson(info);
  j.update(SummaryJson(s));
  return j;
}

bool CheckErrors(const std::string& what, const Summary& s, double max_ratio) {
  if (s.calls == 0) {
    fprintf(stderr, "crm-load: ERROR: %s: no call completed in the measured window\n",
            what.c_str());
    return false;
  }
  if (s.error_ratio() > max_ratio) {
    fprintf(stderr,
            "crm-load: ERROR: %s: %.1f%% of %lld calls failed (%s), more than "
            "--max_error_ratio=%g: these figures measure the errors, not the method\n",
            what.c_str(), s.error_ratio() * 100, static_cast<long long>(s.calls),
            ErrorsText(s).c_str(), max_ratio);
    return false;
  }
  if (s.errors > 0) {
    fprintf(stderr, "crm-load: warning: %s: %lld of %lld calls failed (%s)\n", what.c_str(),
            static_cast<long long>(s.errors), static_cast<long long>(s.calls),
            ErrorsText(s).c_str());
  }
  return true;
}

std::string FormatPair(const RunInfo& info, const PairResult& r) {
  std::string out = absl::StrCat(Title(info), "  medians of ", r.rounds.size(),
                                 " rounds (calls, errors: totals)\n", Header(),
                                 Row(absl::StrCat("service ", ShortMethod(info.method)), r.service),
                                 Row("raw SQL", r.raw), Row("gRPC floor Health/Check", r.floor));
  absl::StrAppendFormat(&out, "\n  %-44s %10.0f calls/s\n", "composed limit 1/(1/floor + 1/raw)",
                        r.composed_limit_rps);
  absl::StrAppendFormat(&out, "  %-44s %10.2f\n", "ratio service / composed limit", r.ratio);
  absl::StrAppendFormat(&out, "  %-44s %10.1f µs (floor %.1f + raw %.1f)\n", "latency budget p50",
                        r.budget_p50_us, r.floor.p50_us, r.raw.p50_us);
  absl::StrAppendFormat(&out, "  %-44s %10.1f µs (service p50 %.1f)\n", "overhead p50",
                        r.overhead_p50_us, r.service.p50_us);
  constexpr char kRoundFormat[] = "  %-8s %16s %9s %16s %9s %16s %9s\n";
  constexpr char kRoundHeaderFormat[] = "  %-8s %16s %10s %16s %10s %16s %10s\n";
  absl::StrAppendFormat(&out, "\n");
  absl::StrAppendFormat(&out, kRoundHeaderFormat, "round", "service calls/s", "p50 µs",
                        "raw calls/s", "p50 µs", "floor calls/s", "p50 µs");
  for (size_t i = 0; i < r.rounds.size(); ++i) {
    const PairRound& round = r.rounds[i];
    absl::StrAppendFormat(
        &out, kRoundFormat, absl::StrCat(i + 1), absl::StrFormat("%.0f", round.service.rps),
        absl::StrFormat("%.1f", round.service.p50_us), absl::StrFormat("%.0f", round.raw.rps),
        absl::StrFormat("%.1f", round.raw.p50_us), absl::StrFormat("%.0f", round.floor.rps),
        absl::StrFormat("%.1f", round.floor.p50_us));
  }
  return out;
}

nlohmann::json PairJson(const RunInfo& info, const PairResult& r) {
  nlohmann::json j = InfoJson(info);
  j["service"] = SummaryJson(r.service);
  j["raw"] = SummaryJson(r.raw);
  j["floor"] = SummaryJson(r.floor);
  j["composed_limit_rps"] = Round1(r.composed_limit_rps);
  j["ratio"] = std::round(r.ratio * 1000) / 1000;
  j["budget_p50_us"] = Round1(r.budget_p50_us);
  j["overhead_p50_us"] = Round1(r.overhead_p50_us);
  nlohmann::json rounds = nlohmann::json::array();
  for (const PairRound& round : r.rounds) {
    rounds.push_back({{"service", SummaryJson(round.service)},
                      {"raw", SummaryJson(round.raw)},
                      {"floor", SummaryJson(round.floor)}});
  }
  j["per_round"] = std::move(rounds);
  return j;
}

}  // namespace crm::load
