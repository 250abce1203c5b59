#pragma once

// One gRPC-web call: the browser's HTTP/1.1 request on the gateway's event
// loop on one side, the backend's gRPC call (generic, bytes only) on the
// other. gRPC's callbacks (headers, each message, the end; a unary call's
// end only) are queued and the loop woken; the loop writes the response: the
// headers as soon as the backend's arrive, each message as a chunk flushed on
// its own, then the trailer frame, or everything in the headers
// (trailers-only) when the backend ended before sending anything. When the
// browser's connection closes, the backend call is cancelled at once. The
// call deletes itself on the loop, after gRPC's last callback.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "services/gateway/backends.h"
#include "services/gateway/cors.h"
#include "services/gateway/grpc_web.h"
#include "services/gateway/message_encoding.h"

struct event;
struct event_base;
struct evhttp_request;
struct evhttp_connection;

namespace crm::gateway {

class CallRegistry;

struct CallRequest {
  evhttp_request* request = nullptr;
  Route route;
  WebMode mode = WebMode::kBinary;
  // The one request message, compressed or not as it came, and the
  // request's grpc-encoding (the backend call's).
  WireMessage message;
  grpc_compression_algorithm encoding = GRPC_COMPRESS_NONE;
  Headers metadata;                       // forwarded to the backend
  std::optional<absl::Duration> timeout;  // grpc-timeout
  Headers cors;                           // added to the response
  std::string origin;
  std::string client;  // the client's address
  size_t bytes_in = 0;
  absl::Duration stream_timeout;  // the connection's idle limit while the response streams
};

class WebCall final : public grpc::ClientBidiReactor<WireMessage, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxUnsentBytes = 64 * 1024;

  // Starts the backend call. Runs on the loop.
  static void Start(event_base* base, CallRegistry* registry, CallRequest request);

  void OnReadInitialMetadataDone(bool ok) override;
  // A unary call's end (it is not a stream; see unary_).
  void OnUnaryDone(grpc::Status status);
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // On the loop: the browser went away (its connection closed; the gateway's
  // close callback calls this).
  void ClientGone();
  // On the loop (draining at shutdown): ends the backend call; the client
  // hears UNAVAILABLE, to retry or resume elsewhere.
  void Cancel() {
    shutting_down_ = true;
    context_.TryCancel();
    ReleaseHoldUnlessReading();  // a read waiting for a slow browser never starts
  }

 private:
  enum class Kind { kHeaders, kMessage, kDone };
  struct Event {
    Kind kind;
    Headers metadata;     // kHeaders: the backend's headers; kDone: its trailers
    std::string bytes;    // kMessage
    grpc::Status status;  // kDone
  };

  WebCall(event_base* base, CallRegistry* registry, CallRequest request);
  ~WebCall();

  void Post(Event event) ABSL_LOCKS_EXCLUDED(mu_);
  static void OnWake(int fd, short what, void* arg);
  void Drain();  // on the loop
  void SendHeaders(const Headers& backend_headers);
  void SendChunk(std::string bytes);
  // A unary call's headers and message, held until its end (the loop's).
  void SendUnaryAnswer();
  // A message's chunk; then the next read from the backend at once, or, when
  // more than kMaxUnsentBytes would wait in the socket's buffer, once they
  // are written (backpressure: a slow browser holds little here).
  void SendMessage(const std::string& bytes);
  static void OnFlushed(evhttp_connection* connection, void* arg);
  // Reads from the loop, under the hold taken at the start: none starts once
  // it is released, and it is released once (after the last read's end, or
  // when no read is under way and none will start).
  void StartNextRead() ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseHold() ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseHoldUnlessReading() ABSL_LOCKS_EXCLUDED(mu_);
  void Finish(const Event& done);

  CallRegistry* const registry_;
  CallRequest call_;
  evhttp_connection* const connection_;  // the browser's; not ours to use once it is gone
  // A unary call without an encoding runs as gRPC's unary call (this reactor
  // unused); the rest as a stream through this reactor.
  const bool unary_;
  const absl::Time started_ = absl::Now();
  grpc::ClientContext context_;
  WireMessage request_;
  grpc::ByteBuffer response_;
  event* wake_ = nullptr;

  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  // A unary call's answer, sent whole at its end.
  Headers unary_headers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unary_messages_ ABSL_GUARDED_BY(mu_);

  // The loop's own.
  bool headers_sent_ = false;
  bool client_gone_ = false;
  bool shutting_down_ = false;
  size_t bytes_out_ = 0;
};

// The calls under way (the loop's own): for draining at shutdown, and for
// the close of a call's connection to reach it.
class CallRegistry {
 public:
  virtual ~CallRegistry() = default;
  virtual void Add(WebCall* call, evhttp_connection* connection) = 0;
  virtual void Remove(WebCall* call, evhttp_connection* connection) = 0;
};

}  // namespace crm::gateway
