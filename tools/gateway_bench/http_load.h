#pragma once

// crm-gateway-bench's HTTP/1.1 load generator: closed loop over
// `connections` keep-alive connections, one gRPC-web call in flight on each
// (HTTP/1.1 has no more), spread over `threads` threads with an epoll loop
// each, with the same warm-up and measured window as crm-load's gRPC runs
// (tools/load/grpc_load.h), so the two compare call for call.
//
// A call counts as OK only when its answer is HTTP 200 with one message and
// grpc-status 0 in the trailer frame. Anything else is an error, tallied by
// the gRPC status name (a trailers-only refusal: "UNAUTHENTICATED", ...) or
// by what went wrong over HTTP: "HTTP_<code>", "NO_GRPC_STATUS", "NO_MESSAGE",
// "BAD_RESPONSE" (unparsable), "CONNECTION_CLOSED", "DEADLINE_EXCEEDED" (no
// answer within `deadline`; the connection is then replaced). A connection
// that breaks is reopened and carries on.

#include <netinet/in.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/load/stats.h"

namespace crm::gateway_bench {

struct HttpLoadOptions {
  sockaddr_in address{};
  std::string request;  // the whole HTTP request (EncodeWebRequest), sent as is every call
  int connections = 16;
  int threads = 2;
  absl::Duration deadline = absl::Seconds(5);
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
};

// UNAVAILABLE when the connections cannot be opened at the start.
absl::StatusOr<load::Summary> RunHttpLoad(const HttpLoadOptions& options);

}  // namespace crm::gateway_bench
