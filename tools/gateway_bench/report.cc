#include "tools/gateway_bench/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/load/report.h"

namespace crm::gateway_bench {
namespace {

double Round2(double v) { return std::round(v * 100) / 100; }
double Round3(double v) { return std::round(v * 1000) / 1000; }

std::vector<int64_t> Sorted(std::vector<int64_t> ns) {
  std::sort(ns.begin(), ns.end());
  return ns;
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

double PercentileMs(const std::vector<int64_t>& sorted, double q) {
  return Ms(load::Percentile(sorted, q));
}

std::string Mib(int64_t kib) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(kib) / 1024);
}

nlohmann::json MemoryJson(const std::optional<notify_bench::MemoryStatus>& m) {
  if (!m.has_value()) {
    return nullptr;
  }
  return {{"rss_kib", m->rss_kib}, {"hwm_kib", m->hwm_kib}};
}

template <typename Map>
nlohmann::json CountsJson(const Map& counts) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, n] : counts) {
    out[name] = n;
  }
  return out;
}

template <typename Map>
std::string CountsText(const Map& counts) {
  if (counts.empty()) {
    return "none";
  }
  return absl::StrJoin(counts, ", ", [](std::string* out, const auto& kv) {
    absl::StrAppend(out, kv.first, " ", kv.second);
  });
}

nlohmann::json WebCountsJson(const WebWatchCounts& c) {
  return {{"opened", c.opened},
          {"established", c.established},
          {"ended", c.ended},
          {"end_codes", CountsJson(c.end_codes)},
          {"busy_retries", c.busy_retries},
          {"heartbeats", c.heartbeats},
          {"notifications", c.notifications}};
}

// One row of p50/p90/p99/max in ms (3 decimals: the gaps are sub-ms).
constexpr char kLatencyRow[] = "  %-48s %9s %9s %9s %9s %6s\n";
void LatencyHeader(std::string* out) {
  absl::StrAppendFormat(out, kLatencyRow, "", "p50 ms", "p90 ms", "p99 ms", "max ms", "count");
}
void LatencyRow(std::string* out, const std::string& name, const std::vector<int64_t>& ns) {
  const std::vector<int64_t> s = Sorted(ns);
  const auto ms = [&](double q) { return absl::StrFormat("%.3f", PercentileMs(s, q)); };
  absl::StrAppendFormat(out, kLatencyRow, name, ms(0.50), ms(0.90), ms(0.99),
                        absl::StrFormat("%.3f", s.empty() ? 0 : Ms(s.back())),
                        absl::StrCat(s.size()));
}

}  // namespace

nlohmann::json LatencyJson(std::vector<int64_t> ns) {
  std::sort(ns.begin(), ns.end());
  return {{"count", ns.size()},
          {"p50_ms", Round3(PercentileMs(ns, 0.50))},
          {"p90_ms", Round3(PercentileMs(ns, 0.90))},
          {"p99_ms", Round3(PercentileMs(ns, 0.99))},
          {"max_ms", Round3(ns.empty() ? 0 : Ms(ns.back()))}};
}

double FirstMessageReport::GapP50Ms() const { return PercentileMs(Sorted(gap_ns), 0.50); }

bool FirstMessageReport::TargetMet() const { return both > 0 && GapP50Ms() <= target_p50_ms; }

double StreamsReport::KibPerStream() const {
  if (!before || !open || streams == 0) {
    return 0;
  }
  return static_cast<double>(open->rss_kib - before->rss_kib) / streams;
}

std::string FormatUnary(const UnaryReport& r) {
  std::string out = absl::StrFormat(
      "crm-gateway-bench unary: %s of the admin, %d in flight each way, %.3g s warm-up + %.3g s "
      "measured per run, %zu alternating rounds, medians\n"
      "  direct: gRPC over %d HTTP/2 connections; gateway: gRPC-web over %d HTTP/1.1 keep-alive "
      "connections (%zu-byte requests); %d client threads each\n\n",
      r.method, r.concurrency, r.warmup_s, r.duration_s, r.direct_rounds.size(), r.channels,
      r.concurrency, r.http_request_bytes, r.threads);
  constexpr char kRow[] = "  %-8s %10s %9s %9s %9s %9s  %s\n";
  absl::StrAppendFormat(&out, kRow, "", "calls/s", "p50 µs", "p90 µs", "p99 µs", "max µs",
                        "errors");
  const auto row = [&](const char* name, const load::Summary& s) {
    absl::StrAppendFormat(&out, kRow, name, absl::StrFormat("%.0f", s.rps),
                          absl::StrFormat("%.0f", s.p50_us), absl::StrFormat("%.0f", s.p90_us),
                          absl::StrFormat("%.0f", s.p99_us), absl::StrFormat("%.0f", s.max_us),
                          load::ErrorsText(s));
  };
  row("direct", r.direct);
  row("gateway", r.gateway);
  std::vector<std::string> rounds;
  for (size_t i = 0; i < r.direct_rounds.size() && i < r.gateway_rounds.size(); ++i) {
    const double direct = r.direct_rounds[i].rps;
    rounds.push_back(absl::StrFormat("%.0f / %.0f (%.2f×)", r.gateway_rounds[i].rps, direct,
                                     direct > 0 ? r.gateway_rounds[i].rps / direct : 0));
  }
  absl::StrAppendFormat(&out, "  rounds, gateway / direct calls/s: %s\n",
                        absl::StrJoin(rounds, ", "));
  absl::StrAppendFormat(&out, "  throughput gateway / direct: %.2f× (target ≥ %.2f×: %s)\n",
                        r.Ratio(), r.target_ratio, r.TargetMet() ? "met" : "NOT met");
  return out;
}

nlohmann::json UnaryJson(const UnaryReport& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (size_t i = 0; i < r.direct_rounds.size() && i < r.gateway_rounds.size(); ++i) {
    const double direct = r.direct_rounds[i].rps;
    rounds.push_back({{"direct", load::SummaryJson(r.direct_rounds[i])},
                      {"gateway", load::SummaryJson(r.gateway_rounds[i])},
                      {"ratio", Round3(direct > 0 ? r.gateway_rounds[i].rps / direct : 0)}});
  }
  return {{"part", "unary"},
          {"method", r.method},
          {"concurrency", r.concurrency},
          {"channels", r.channels},
          {"threads", r.threads},
          {"warmup_s", r.warmup_s},
          {"duration_s", r.duration_s},
          {"rounds", r.direct_rounds.size()},
          {"response_bytes", r.response_bytes},
          {"http_request_bytes", r.http_request_bytes},
          {"direct", load::SummaryJson(r.direct)},
          {"gateway", load::SummaryJson(r.gateway)},
          {"ratio", Round3(r.Ratio())},
          {"target_ratio", r.target_ratio},
          {"target_met", r.TargetMet()},
          {"per_round", rounds}};
}

std::string FormatFirstMessage(const FirstMessageReport& r) {
  std::string out = absl::StrFormat(
      "crm-gateway-bench first message: WatchNotifications of the admin opened directly (gRPC) "
      "and through the gateway (gRPC-web), then %d CreateNotification for the admin, one every "
      "%.0f ms\n\n",
      r.asked, r.interval_ms);
  LatencyHeader(&out);
  LatencyRow(&out, "gateway arrival − direct arrival", r.gap_ns);
  LatencyRow(&out, "direct: CreateNotification returned → arrival", r.direct_ns);
  LatencyRow(&out, "gateway: CreateNotification returned → arrival", r.gateway_ns);
  LatencyRow(&out, "CreateNotification itself", r.create_ns);
  absl::StrAppendFormat(
      &out,
      "\n  created %d of %d (errors: %s); received directly %d, through the gateway %d, both %d "
      "(the gateway first: %d); other notifications %d\n",
      r.created, r.asked, CountsText(r.errors), r.direct_received, r.gateway_received, r.both,
      r.gateway_first, r.others);
  absl::StrAppendFormat(&out, "  streams ended: direct %d, gateway %d; keep-alives: %d, %d\n",
                        r.direct_stream.ended, r.gateway_stream.ended, r.direct_stream.heartbeats,
                        r.gateway_stream.heartbeats);
  absl::StrAppendFormat(&out,
                        "  target: the gateway's p50 within %.0f ms of direct: %s (%.3f ms)\n",
                        r.target_p50_ms, r.TargetMet() ? "met" : "NOT met", r.GapP50Ms());
  return out;
}

nlohmann::json FirstMessageJson(const FirstMessageReport& r) {
  return {{"part", "first_message"},
          {"asked", r.asked},
          {"interval_ms", r.interval_ms},
          {"created", r.created},
          {"errors", CountsJson(r.errors)},
          {"direct_received", r.direct_received},
          {"gateway_received", r.gateway_received},
          {"both", r.both},
          {"gateway_first", r.gateway_first},
          {"others", r.others},
          {"gap", LatencyJson(r.gap_ns)},
          {"direct", LatencyJson(r.direct_ns)},
          {"gateway", LatencyJson(r.gateway_ns)},
          {"create", LatencyJson(r.create_ns)},
          {"direct_stream",
           {{"established", r.direct_stream.established},
            {"ended", r.direct_stream.ended},
            {"heartbeats", r.direct_stream.heartbeats}}},
          {"gateway_stream", WebCountsJson(r.gateway_stream)},
          {"target_p50_ms", r.target_p50_ms},
          {"gap_p50_ms", Round3(r.GapP50Ms())},
          {"target_met", r.TargetMet()}};
}

std::string FormatStreams(const StreamsReport& r) {
  const WebWatchCounts& c = r.counts;
  std::string out = absl::StrFormat(
      "crm-gateway-bench streams: %d WatchNotifications of the admin through the gateway, one "
      "HTTP/1.1 connection each\n"
      "  established %d of %d in %.2f s (%d refused busy and retried); %d ended; %d keep-alives\n"
      "  one notification to all: received on %d of %d streams\n\n",
      r.streams, c.established, c.opened, r.establish_s, c.busy_retries, c.ended, c.heartbeats,
      r.delivered, r.streams);
  LatencyHeader(&out);
  LatencyRow(&out, "CreateNotification returned → arrival", r.fanout_ns);
  if (r.before && r.open && r.after && r.closed) {
    absl::StrAppendFormat(
        &out,
        "\n  gateway VmRSS: %s before, %s with %d streams open (%+.1f KiB per stream), %s after "
        "the fan-out, %s 1 s after closing them; peak (VmHWM) %s\n",
        Mib(r.before->rss_kib), Mib(r.open->rss_kib), r.streams, r.KibPerStream(),
        Mib(r.after->rss_kib), Mib(r.closed->rss_kib), Mib(r.closed->hwm_kib));
  } else {
    out += "\n  gateway VmRSS: not measured (no --gateway_pid)\n";
  }
  return out;
}

nlohmann::json StreamsJson(const StreamsReport& r) {
  return {{"part", "streams"},
          {"streams", r.streams},
          {"establish_s", Round2(r.establish_s)},
          {"counts", WebCountsJson(r.counts)},
          {"delivered", r.delivered},
          {"fanout", LatencyJson(r.fanout_ns)},
          {"rss",
           {{"before", MemoryJson(r.before)},
            {"open", MemoryJson(r.open)},
            {"after_fanout", MemoryJson(r.after)},
            {"closed", MemoryJson(r.closed)}}},
          {"kib_per_stream", Round2(r.KibPerStream())}};
}

}  // namespace crm::gateway_bench
