#pragma once

// Where a gRPC-web call goes: the backend service by the package in its path
// ("/crm.leads.v1.LeadService/ListLeads" → leads), over one long-lived
// HTTP/2 channel per backend with keepalive pings, through gRPC's generic
// API (messages pass as bytes, never decoded). The method's kind comes from
// the compiled-in API contract, so client-streaming and bidi methods, which
// gRPC-web cannot carry, are refused up front. A thread asks every backend's
// grpc.health.v1 Check every few seconds for /healthz.

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/client/tls_options.h"
#include "grpcpp/channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "services/gateway/message_encoding.h"

namespace crm::gateway {

// Requests go as the browser sent them (compressed or not), answers come
// back as bytes.
using WebStub = grpc::TemplatedGenericStub<WireMessage, grpc::ByteBuffer>;

struct Backend {
  std::string name;     // "leads"
  std::string address;  // host:port
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<WebStub> stub;
};

struct Route {
  Backend* backend = nullptr;
  std::string method;  // "/crm.leads.v1.LeadService/ListLeads"
  bool server_streaming = false;
};

class Backends {
 public:
  // `addresses`: backend name ("auth", "leads", ...) → host:port.
  Backends(const std::map<std::string, std::string>& addresses,
           const client::ClientTlsOptions& tls);
  Backends(const Backends&) = delete;
  Backends& operator=(const Backends&) = delete;
  ~Backends();

  // UNIMPLEMENTED for a path that names no method of the contract (or of a
  // backend not configured) and for client-streaming or bidi methods.
  absl::StatusOr<Route> Resolve(absl::string_view path);

  // Starts polling health every `interval`.
  void StartHealthChecks(absl::Duration interval);
  // Backends not SERVING at the last poll, with why ("leads: UNAVAILABLE");
  // empty when all are (and once the first poll is done).
  std::vector<std::string> Unhealthy() ABSL_LOCKS_EXCLUDED(mu_);

  Backend* Find(const std::string& name);

 private:
  void PollHealth();

  std::map<std::string, std::unique_ptr<Backend>> backends_;
  absl::Mutex mu_;
  std::vector<std::string> unhealthy_ ABSL_GUARDED_BY(mu_) = {"health not checked yet"};
  absl::Notification stop_;
  std::thread health_thread_;
};

}  // namespace crm::gateway
