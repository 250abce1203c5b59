#pragma once

// crm-gateway-bench's three measurements, each against the running suite as
// the bootstrap admin (main.cc signs in and fills a Session):
//
//   RunUnary         GetUser of the admin through the gateway (gRPC-web over
//                    HTTP/1.1, http_load.h) against the same call straight to
//                    auth (gRPC, crm-load's RunGrpc), same concurrency and
//                    window, alternating rounds, medians;
//   RunFirstMessage  one WatchNotifications opened both ways, then
//                    CreateNotification for the admin one at a time: each
//                    notification's arrival on each stream;
//   RunStreams       many WatchNotifications through the gateway, the
//                    gateway's memory before and with them open, and one
//                    notification that must reach all of them.
//
// Each checks first that what it measures works (one call through the
// gateway answers grpc-status 0 with the admin; both streams go live) and
// fails with FAILED_PRECONDITION or UNAVAILABLE saying what came back.

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "tools/gateway_bench/report.h"

namespace crm::gateway_bench {

struct Session {
  sockaddr_in gateway{};
  std::string gateway_address;  // "127.0.0.1:8080", also the Host header
  std::string auth_address;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::shared_ptr<grpc::Channel> auth;           // direct
  std::shared_ptr<grpc::Channel> notifications;  // direct
  std::string token;                             // the admin's access token
  int64_t admin_id = 0;
  absl::Duration deadline = absl::Seconds(5);  // of each setup or measured call
};

struct UnaryOptions {
  int concurrency = 16;
  int channels = 2;
  int threads = 2;
  int rounds = 3;
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  double target_ratio = 0.6;
};
absl::StatusOr<UnaryReport> RunUnary(const Session& session, const UnaryOptions& options);

struct FirstMessageOptions {
  int notifications = 200;
  absl::Duration interval = absl::Milliseconds(20);
  absl::Duration drain = absl::Seconds(5);  // after the last, for stragglers
  absl::Duration watch_timeout = absl::Seconds(10);
  double target_p50_ms = 5;
};
absl::StatusOr<FirstMessageReport> RunFirstMessage(const Session& session,
                                                   const FirstMessageOptions& options);

struct StreamsOptions {
  int streams = 2000;
  int max_connecting = 128;
  absl::Duration watch_timeout = absl::Seconds(60);
  absl::Duration fanout_timeout = absl::Seconds(10);
  int gateway_pid = 0;  // 0: memory not read
};
absl::StatusOr<StreamsReport> RunStreams(const Session& session, const StreamsOptions& options);

// The notifications the bench created marked read, so that they do not sit
// in the admin's unread count (nothing can delete them). Best effort: a
// warning on stderr when it fails.
void MarkRead(const Session& session, const std::vector<int64_t>& ids);

}  // namespace crm::gateway_bench
