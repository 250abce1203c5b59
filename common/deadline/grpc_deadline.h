#pragma once

// A gRPC server call's deadline as absl::Time, the one conversion: what
// CallScope, the executor and token verification all take.

#include <chrono>

#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace crm {

// InfiniteFuture when the client set none.
inline absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  return deadline == std::chrono::system_clock::time_point::max() ? absl::InfiniteFuture()
                                                                  : absl::FromChrono(deadline);
}

}  // namespace crm
