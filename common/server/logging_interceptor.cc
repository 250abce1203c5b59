#include "common/server/logging_interceptor.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log/log.h"
#include "grpcpp/server_context.h"

namespace crm::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr size_t kMaxRequestIdBytes = 128;

class LoggingInterceptor final : public grpc::experimental::Interceptor {
 public:
  LoggingInterceptor(grpc::experimental::ServerRpcInfo* info, std::atomic<int>* in_flight)
      : info_(info), in_flight_(in_flight), start_(absl::Now()) {
    ++*in_flight_;
  }
  ~LoggingInterceptor() override { --*in_flight_; }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* metadata = methods->GetRecvInitialMetadata();
      if (auto it = metadata->find("x-request-id"); it != metadata->end()) {
        request_id_.assign(it->second.data(), std::min(it->second.size(), kMaxRequestIdBytes));
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const absl::string_view method = info_->method();
      // Probes call health every few seconds; keep them out of the info log.
      const bool probe = absl::StartsWith(method, "/grpc.health.v1.Health/") && status.ok();
      log::Line line(probe ? log::Level::kDebug : log::Level::kInfo, "rpc");
      line.Str("method", method)
          .Str("code", CodeName(status.error_code()))
          .Num("latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start_))
          .Str("peer", info_->server_context()->peer());
      if (!request_id_.empty()) {
        line.Str("request_id", request_id_);
      }
      if (!status.ok()) {
        line.Str("error", status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  static absl::string_view CodeName(grpc::StatusCode code) {
    static constexpr absl::string_view kNames[] = {"OK",
                                                   "CANCELLED",
                                                   "UNKNOWN",
                                                   "INVALID_ARGUMENT",
                                                   "DEADLINE_EXCEEDED",
                                                   "NOT_FOUND",
                                                   "ALREADY_EXISTS",
                                                   "PERMISSION_DENIED",
                                                   "RESOURCE_EXHAUSTED",
                                                   "FAILED_PRECONDITION",
                                                   "ABORTED",
                                                   "OUT_OF_RANGE",
                                                   "UNIMPLEMENTED",
                                                   "INTERNAL",
                                                   "UNAVAILABLE",
                                                   "DATA_LOSS",
                                                   "UNAUTHENTICATED"};
    const int index = static_cast<int>(code);
    return index >= 0 && index <= 16 ? kNames[index] : "UNKNOWN";
  }

  grpc::experimental::ServerRpcInfo* const info_;
  std::atomic<int>* const in_flight_;
  const absl::Time start_;
  std::string request_id_;
};

}  // namespace

grpc::experimental::Interceptor* LoggingInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new LoggingInterceptor(info, in_flight_);
}

}  // namespace crm::server
