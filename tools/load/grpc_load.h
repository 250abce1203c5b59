#pragma once

// The gRPC side of crm-load: raw request bytes through grpc::GenericStub on
// the async CompletionQueue API, closed loop (each of --concurrency slots
// sends its next call when the previous completes), spread over --threads
// threads (one CompletionQueue each) and --channels HTTP/2 connections.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "tools/load/request_template.h"
#include "tools/load/stats.h"

namespace crm::load {

// `count` channels to `target`, each its own connection: gRPC otherwise
// shares one subchannel (one TCP connection) between equal channels.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int count);

// Waits until every channel is connected: UNAVAILABLE naming the target if
// one is not within `timeout`.
absl::Status WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                           const std::string& target, absl::Duration timeout);

using Metadata = std::vector<std::pair<std::string, std::string>>;

// Parses --metadata 'key: value' entries: the key lower-cased and checked to
// be a header gRPC will send (a-z 0-9 - _ ., not reserved), the value
// printable ASCII unless the key ends in -bin. INVALID_ARGUMENT otherwise.
absl::StatusOr<Metadata> ParseMetadata(const std::vector<std::string>& entries);

struct GrpcRunOptions {
  std::string method_path;  // "/package.Service/Method"
  const RequestSet* requests = nullptr;
  Metadata metadata;
  int concurrency = 1;
  int threads = 1;
  absl::Duration deadline = absl::Seconds(5);
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
};

// One warm-up (unmeasured) and one measured window; calls completing outside
// the window are not counted. Errors are tallied by status code name.
Summary RunGrpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                const GrpcRunOptions& options);

}  // namespace crm::load
