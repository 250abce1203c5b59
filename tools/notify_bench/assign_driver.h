#pragma once

// The load of crm-notify-bench: AssignLead at a steady rate, open loop (each
// call sent at its scheduled time, whatever the calls before it are doing),
// each lead moved from one bench agent to the other.
//
// A lead has at most one assignment in flight: a call takes the lead idle
// the longest, and the lead is free again when its answer arrives. So each
// call names the lead's current version (a conflict would be a bug, not
// noise), every assignment changes the agent (an assignment to the agent a
// lead already has records nothing, hence no notification), and the
// notifications of one lead come in the order of its assignments. With
// enough leads (a rate of 200/s cycles 200 leads in a second) one is always
// free; when none is, the call is not sent and counts as NO_IDLE_LEAD. A
// lead whose call failed is not used again in the run (its state is unknown).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "tools/notify_bench/assignments.h"
#include "tools/notify_bench/setup.h"

namespace crm::notify_bench {

struct DriveOptions {
  double rate = 200;  // assignments per second
  absl::Duration warmup = absl::Seconds(5);
  absl::Duration duration = absl::Seconds(60);
  // After the last send: how long deliveries are waited for.
  absl::Duration drain = absl::Seconds(5);
  absl::Duration deadline = absl::Seconds(5);  // of each AssignLead
  int64_t agent_a = 0;
  int64_t agent_b = 0;
  std::string admin_token;
};

struct DriveResult {
  int64_t scheduled = 0;       // measured sends scheduled
  double measured_s = 0;       // the measured window's length
  double sent_per_second = 0;  // measured assignments sent / measured_s
  int64_t late_sends = 0;      // sent more than 5 ms after their scheduled time
  double max_late_ms = 0;
  int64_t leads_retired = 0;  // after a failed call
};

// Runs the warm-up, the measured window and the drain (returning when every
// measured assignment is settled or the drain is over), reporting each
// assignment to `tracker` (measured: scheduled inside the measured window).
DriveResult DriveAssignments(const std::shared_ptr<grpc::Channel>& leads_channel,
                             std::vector<BenchLead> leads, const DriveOptions& options,
                             AssignmentTracker& tracker);

}  // namespace crm::notify_bench
