#include "tools/notify_bench/report.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/load/stats.h"

namespace crm::notify_bench {
namespace {

double Round2(double v) { return std::round(v * 100) / 100; }

double PercentileMs(const std::vector<int64_t>& sorted_ns, double q) {
  return static_cast<double>(load::Percentile(sorted_ns, q)) / 1e6;
}

double MaxMs(const std::vector<int64_t>& sorted_ns) {
  return sorted_ns.empty() ? 0 : static_cast<double>(sorted_ns.back()) / 1e6;
}

std::string CountsText(const std::map<std::string, int64_t>& counts) {
  return absl::StrJoin(counts, ", ", [](std::string* out, const auto& kv) {
    absl::StrAppend(out, kv.first, " ", kv.second);
  });
}

std::string Mib(int64_t kib) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(kib) / 1024);
}

nlohmann::json MemoryJson(const std::optional<MemoryStatus>& m) {
  if (!m.has_value()) {
    return nullptr;
  }
  return {{"rss_kib", m->rss_kib}, {"hwm_kib", m->hwm_kib}};
}

nlohmann::json StreamsJson(const WatchCounts& c) {
  nlohmann::json ends = nlohmann::json::object();
  for (const auto& [code, n] : c.end_codes) {
    ends[code] = n;
  }
  return {{"opened", c.opened},
          {"busy_retries", c.busy_retries},
          {"established", c.established},
          {"ended", c.ended},
          {"end_codes", ends},
          {"heartbeats", c.heartbeats},
          {"notifications", c.notifications}};
}

int Streams(const BenchReport& r) { return r.idle.opened + r.agent.opened; }

}  // namespace

double BenchReport::LatencyMs(double q) const { return PercentileMs(delivery.latency_ns, q); }
double BenchReport::AssignMs(double q) const { return PercentileMs(delivery.assign_ns, q); }

bool BenchReport::TargetMet() const {
  return delivery.delivered > 0 && LatencyMs(0.99) < target_p99_ms;
}

std::string FormatReport(const BenchReport& r) {
  const DeliveryReport& d = r.delivery;
  std::string out = absl::StrFormat(
      "crm-notify-bench: AssignLead → the agent's WatchNotifications, %.0f/s open loop, %.3g s "
      "warm-up + %.3g s measured\n"
      "  %d agent watchers + %d idle watchers (%d CLIENT users × %d) over %d connections, %d "
      "leads\n"
      "  setup %.1f s: passwords %.1f s, sign-ins %.1f s, watchers established %.1f s\n\n",
      r.rate, r.warmup_s, r.duration_s, r.agent.opened, r.idle.opened, r.idle_users,
      r.idle_per_user, r.channels, r.leads, r.setup_s, r.users_s, r.sign_in_s, r.watchers_s);
  constexpr char kRow[] = "  %-36s %8s %8s %8s %8s %8s\n";
  absl::StrAppendFormat(&out, kRow, "", "p50 ms", "p90 ms", "p99 ms", "max ms", "count");
  const auto row = [&](const char* name, const std::vector<int64_t>& ns) {
    absl::StrAppendFormat(&out, kRow, name, absl::StrFormat("%.2f", PercentileMs(ns, 0.50)),
                          absl::StrFormat("%.2f", PercentileMs(ns, 0.90)),
                          absl::StrFormat("%.2f", PercentileMs(ns, 0.99)),
                          absl::StrFormat("%.2f", MaxMs(ns)), absl::StrCat(ns.size()));
  };
  row("AssignLead returned → notification", d.latency_ns);
  row("AssignLead itself (send → return)", d.assign_ns);
  absl::StrAppendFormat(
      &out,
      "\n  assignments: %d sent (%.1f/s; %d sent > 5 ms late, at most %.1f ms), %d returned OK,\n"
      "    %d notified, %d missing, %d errors%s, %d notified before AssignLead returned (counted "
      "as 0 ms)%s\n",
      d.sent, r.drive.sent_per_second, r.drive.late_sends, r.drive.max_late_ms, d.returned,
      d.delivered, d.missing, d.error_count,
      d.errors.empty() ? "" : absl::StrCat(" (", CountsText(d.errors), ")"), d.early,
      d.pending > 0 ? absl::StrCat(", ", d.pending, " never answered") : "");
  absl::StrAppendFormat(
      &out,
      "  agents' streams: %d ended, %d keep-alives, %d lead.assigned matching no assignment, "
      "%d of\n    other kinds\n",
      r.agent.ended, r.agent.heartbeats, d.unexpected, d.other_kinds);
  absl::StrAppendFormat(&out,
                        "  idle streams: %d of %d open at the end, %d keep-alives, %d "
                        "notifications\n",
                        r.idle.opened - r.idle.ended, r.idle.opened, r.idle.heartbeats,
                        r.idle.notifications);
  if (const int busy = r.idle.busy_retries + r.agent.busy_retries; busy > 0) {
    absl::StrAppendFormat(
        &out, "  stream opens turned away busy before their headers, and retried: %d\n", busy);
  }
  if (r.memory_before && r.memory_open && r.memory_end) {
    const double per_stream =
        Streams(r) == 0
            ? 0
            : static_cast<double>(r.memory_open->rss_kib - r.memory_before->rss_kib) / Streams(r);
    absl::StrAppendFormat(&out,
                          "  notifications service VmRSS: %s before the streams, %s with %d open\n"
                          "    (%+.1f KiB per stream), %s at the end; peak (VmHWM) %s\n",
                          Mib(r.memory_before->rss_kib), Mib(r.memory_open->rss_kib), Streams(r),
                          per_stream, Mib(r.memory_end->rss_kib), Mib(r.memory_end->hwm_kib));
  } else {
    out += "  notifications service VmRSS: not measured (no --service_pid)\n";
  }
  absl::StrAppendFormat(&out, "  target p99 < %.0f ms: %s (%.2f ms)\n", r.target_p99_ms,
                        r.TargetMet() ? "met" : "NOT met", r.LatencyMs(0.99));
  return out;
}

nlohmann::json ReportJson(const BenchReport& r) {
  const DeliveryReport& d = r.delivery;
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, n] : d.errors) {
    errors[code] = n;
  }
  const auto latency = [](const std::vector<int64_t>& ns) -> nlohmann::json {
    return {{"count", ns.size()},
            {"p50_ms", Round2(PercentileMs(ns, 0.50))},
            {"p90_ms", Round2(PercentileMs(ns, 0.90))},
            {"p99_ms", Round2(PercentileMs(ns, 0.99))},
            {"max_ms", Round2(MaxMs(ns))}};
  };
  return {
      {"tool", "crm-notify-bench"},
      {"rate", r.rate},
      {"warmup_s", r.warmup_s},
      {"duration_s", r.duration_s},
      {"idle_users", r.idle_users},
      {"idle_per_user", r.idle_per_user},
      {"idle_watchers", r.idle.opened},
      {"agent_watchers", r.agent.opened},
      {"leads", r.leads},
      {"channels", r.channels},
      {"setup_s",
       {{"total", Round2(r.setup_s)},
        {"passwords", Round2(r.users_s)},
        {"sign_ins", Round2(r.sign_in_s)},
        {"watchers", Round2(r.watchers_s)}}},
      {"sent", d.sent},
      {"sent_per_s", Round2(r.drive.sent_per_second)},
      {"late_sends", r.drive.late_sends},
      {"max_late_ms", Round2(r.drive.max_late_ms)},
      {"returned", d.returned},
      {"notified", d.delivered},
      {"missing", d.missing},
      {"early", d.early},
      {"pending", d.pending},
      {"errors", d.error_count},
      {"errors_by_code", errors},
      {"unexpected", d.unexpected},
      {"other_kinds", d.other_kinds},
      {"latency", latency(d.latency_ns)},
      {"assign", latency(d.assign_ns)},
      {"agent_streams", StreamsJson(r.agent)},
      {"idle_streams", StreamsJson(r.idle)},
      {"rss",
       {{"before", MemoryJson(r.memory_before)},
        {"with_watchers", MemoryJson(r.memory_open)},
        {"end", MemoryJson(r.memory_end)}}},
      {"target_p99_ms", r.target_p99_ms},
      {"target_met", r.TargetMet()},
  };
}

}  // namespace crm::notify_bench
