#pragma once

// The gateway's HTTP/1.1 side: one libevent loop (no thread per connection or
// stream) serving
//   POST /<package>.<Service>/<Method>   gRPC-web calls (WebCall)
//   OPTIONS *                            CORS preflights
//   GET /.well-known/jwks.json           auth's token keys as a JWK Set
//   GET /healthz                         200 when every backend is SERVING
// Every failure of a call, the gateway's own included, is a gRPC-web answer
// (HTTP 200 with grpc-status), never an HTML page.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/server/client_address.h"
#include "services/gateway/backends.h"
#include "services/gateway/cors.h"
#include "services/gateway/jwks.h"
#include "services/gateway/web_call.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_connection;
struct evhttp_request;

namespace crm::gateway {

struct HttpGatewayOptions {
  std::string listen = "127.0.0.1:8080";
  size_t max_body_bytes = 4 << 20;
  size_t max_message_bytes = 4 << 20;
  // A client must send its request's headers and body within this.
  absl::Duration read_timeout = absl::Seconds(10);
  // A streaming response's connection may stay quiet this long (the
  // services' keep-alives come every 15 s).
  absl::Duration stream_idle_timeout = absl::Minutes(5);
  // Connections kept at most; a new one past it gets its first request
  // refused (RESOURCE_EXHAUSTED) and is closed.
  size_t max_connections = 10000;
  // Peers whose x-forwarded-for is kept (the edge in front of the gateway);
  // from anyone else it is replaced by the peer's own address.
  server::TrustedProxies trusted_proxies;
};

class HttpGateway final : public CallRegistry {
 public:
  HttpGateway(HttpGatewayOptions options, Backends* backends, const CorsPolicy* cors,
              JwksCache* jwks);
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;
  ~HttpGateway() override;

  // Binds the listening socket.
  absl::Status Bind();
  int port() const { return port_; }
  // Serves until Stop() has drained.
  void Run();
  // From any thread: stop accepting, let calls end for up to `drain`, then
  // cancel the rest and return from Run().
  void Stop(absl::Duration drain);

  void Add(WebCall* call, evhttp_connection* connection) override;
  void Remove(WebCall* call, evhttp_connection* connection) override;

 private:
  static void OnRequest(evhttp_request* request, void* arg);
  static void OnStop(int fd, short what, void* arg);
  static void OnDrainTick(int fd, short what, void* arg);
  static void OnConnectionClosed(evhttp_connection* connection, void* arg);
  // Tracks a request's connection; false (after refusing the request) when
  // it is a new one past --max_connections.
  bool Admit(evhttp_request* request, const std::string& origin);
  void Handle(evhttp_request* request);
  void HandleCall(evhttp_request* request, const std::string& path, const std::string& origin);
  void HandleGet(evhttp_request* request, const std::string& path);
  void HandlePreflight(evhttp_request* request, const std::string& origin);
  // A gRPC-web answer of the gateway's own (trailers-only), with `extra`
  // headers.
  void Refuse(evhttp_request* request, WebMode mode, const absl::Status& status,
              const std::string& origin, const Headers& extra = {});

  const HttpGatewayOptions options_;
  Backends* const backends_;
  const CorsPolicy* const cors_;
  JwksCache* const jwks_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  evhttp_bound_socket* socket_ = nullptr;
  event* stop_event_ = nullptr;
  event* drain_timer_ = nullptr;
  int port_ = 0;
  // Set by Stop() before the stop event fires; read on the loop.
  std::atomic<int64_t> drain_ms_{0};
  absl::Time drain_deadline_;
  bool draining_ = false;
  std::set<WebCall*> calls_;  // the loop's own
  // Every connection that has sent a request, and its call under way (if any).
  absl::flat_hash_map<evhttp_connection*, WebCall*> connections_;
};

}  // namespace crm::gateway
