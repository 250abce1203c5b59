#pragma once

// Writes one structured log line per RPC when its status is sent: method,
// status code, latency, peer and the caller's x-request-id. Request and
// response bodies and metadata values other than the request id are never
// logged, so tokens and passwords cannot leak into logs.

#include "grpcpp/support/server_interceptor.h"

namespace crm::server {

class LoggingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace crm::server
