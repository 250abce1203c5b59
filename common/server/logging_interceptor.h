#pragma once

// Writes one structured log line per RPC when its status is sent: method,
// status code, latency, peer and the caller's x-request-id. Request and
// response bodies and metadata values other than the request id are never
// logged, so tokens and passwords cannot leak into logs.

#include <atomic>

#include "grpcpp/support/server_interceptor.h"

namespace crm::server {

class LoggingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `in_flight` counts RPCs from arrival until their call object is gone, so
  // shutdown can wait for exactly those (and not for idle client connections).
  explicit LoggingInterceptorFactory(std::atomic<int>* in_flight) : in_flight_(in_flight) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::atomic<int>* const in_flight_;
};

}  // namespace crm::server
