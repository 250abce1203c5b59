#include "tools/notify_bench/assign_driver.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::notify_bench {
namespace {

using leads::v1::LeadService;

// The leads with no assignment in flight, the one idle longest first.
class LeadPool {
 public:
  explicit LeadPool(std::vector<BenchLead> leads) : free_(leads.begin(), leads.end()) {}

  std::optional<BenchLead> Take() {
    absl::MutexLock lock(&mu_);
    if (free_.empty()) {
      return std::nullopt;
    }
    BenchLead lead = free_.front();
    free_.pop_front();
    return lead;
  }

  void Return(const BenchLead& lead) {
    absl::MutexLock lock(&mu_);
    free_.push_back(lead);
  }

  void Retire() {
    absl::MutexLock lock(&mu_);
    ++retired_;
  }

  int64_t retired() const {
    absl::MutexLock lock(&mu_);
    return retired_;
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<BenchLead> free_ ABSL_GUARDED_BY(mu_);
  int64_t retired_ ABSL_GUARDED_BY(mu_) = 0;
};

// Calls sent and not yet answered.
class InFlight {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  bool Empty() const {
    absl::MutexLock lock(&mu_);
    return count_ == 0;
  }
  void WaitEmpty() const {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](const int64_t* count) { return *count == 0; }, &count_));
  }

 private:
  mutable absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// One AssignLead, alive until its answer.
struct Call {
  grpc::ClientContext context;
  leads::v1::AssignLeadRequest request;
  leads::v1::AssignLeadResponse response;
  AssignmentTracker::Id id = 0;
};

void SleepUntilNs(int64_t monotonic_ns) {
  std::this_thread::sleep_until(
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(monotonic_ns)));
}

}  // namespace

DriveResult DriveAssignments(const std::shared_ptr<grpc::Channel>& leads_channel,
                             std::vector<BenchLead> leads, const DriveOptions& options,
                             AssignmentTracker& tracker) {
  auto stub = LeadService::NewStub(leads_channel);
  LeadPool pool(std::move(leads));
  InFlight in_flight;
  DriveResult result;

  const int64_t start = MonotonicNowNs() + absl::ToInt64Nanoseconds(absl::Milliseconds(10));
  const int64_t measure_from = start + absl::ToInt64Nanoseconds(options.warmup);
  const int64_t end = measure_from + absl::ToInt64Nanoseconds(options.duration);
  const std::string authorization = absl::StrCat("Bearer ", options.admin_token);
  int64_t measured_sent = 0;
  int64_t max_late = 0;
  for (int64_t k = 0;; ++k) {
    // From k each time, so rounding never accumulates into drift.
    const int64_t at = start + static_cast<int64_t>(static_cast<double>(k) * 1e9 / options.rate);
    if (at >= end) {
      break;
    }
    SleepUntilNs(at);
    const bool measured = at >= measure_from;
    const int64_t late = MonotonicNowNs() - at;
    if (measured) {
      ++result.scheduled;
      max_late = std::max(max_late, late);
      if (late > absl::ToInt64Nanoseconds(absl::Milliseconds(5))) {
        ++result.late_sends;
      }
    }
    std::optional<BenchLead> lead = pool.Take();
    if (!lead.has_value()) {
      tracker.NotSent(measured, "NO_IDLE_LEAD");
      continue;
    }
    const int64_t agent = lead->agent_id == options.agent_a ? options.agent_b : options.agent_a;
    auto* call = new Call;
    call->context.set_deadline(client::DeadlineAfter(options.deadline));
    call->context.AddMetadata("authorization", authorization);
    call->request.set_lead_id(lead->id);
    call->request.set_agent_id(agent);
    call->request.set_version(lead->version);
    call->id = tracker.Sent(lead->id, agent, measured, MonotonicNowNs());
    if (measured) {
      ++measured_sent;
    }
    in_flight.Add();
    stub->async()->AssignLead(
        &call->context, &call->request, &call->response,
        [call, &tracker, &pool, &in_flight](grpc::Status status) {
          const int64_t now = MonotonicNowNs();
          if (status.ok()) {
            tracker.Returned(call->id, now);
            pool.Return({.id = call->request.lead_id(),
                         .agent_id = call->request.agent_id(),
                         .version = call->response.lead().version()});
          } else {
            tracker.Failed(call->id, absl::StatusCodeToString(
                                         static_cast<absl::StatusCode>(status.error_code())));
            pool.Retire();
          }
          delete call;
          in_flight.Done();
        });
  }

  // Deliveries are waited for until `drain` after the last send; calls until
  // they answer (each has a deadline), since their callbacks use this frame.
  const int64_t give_up = std::max(end, MonotonicNowNs()) + absl::ToInt64Nanoseconds(options.drain);
  while ((tracker.Outstanding() > 0 || !in_flight.Empty()) && MonotonicNowNs() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  in_flight.WaitEmpty();

  result.measured_s = absl::ToDoubleSeconds(options.duration);
  result.sent_per_second = static_cast<double>(measured_sent) / result.measured_s;
  result.max_late_ms = static_cast<double>(max_late) / 1e6;
  result.leads_retired = pool.retired();
  return result;
}

}  // namespace crm::notify_bench
