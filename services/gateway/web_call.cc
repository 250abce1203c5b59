#include "services/gateway/web_call.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace crm::gateway {
namespace {

Headers CopyMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  Headers out;
  for (const auto& [key, value] : metadata) {
    std::string name(key.data(), key.size());
    std::string text(value.data(), value.size());
    if (absl::EndsWith(name, "-bin")) {
      text = absl::Base64Escape(text);  // binary metadata travels as base64 over HTTP/1.1
    }
    out.emplace_back(std::move(name), std::move(text));
  }
  return out;
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) {
    return out;
  }
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

void AddHeaders(evhttp_request* request, const Headers& headers) {
  evkeyvalq* out = evhttp_request_get_output_headers(request);
  for (const auto& [name, value] : headers) {
    evhttp_add_header(out, name.c_str(), value.c_str());  // refuses CR/LF in values
  }
}

}  // namespace

void WebCall::Start(event_base* base, CallRegistry* registry, CallRequest request) {
  auto* call = new WebCall(base, registry, std::move(request));
  registry->Add(call, call->connection_);
  call->request_ = std::move(call->call_.message);
  if (call->unary_) {
    // One batch and one callback for the whole call, where a stream takes
    // five (start, write, headers, read, end): each is a hop between threads.
    call->call_.route.backend->stub->UnaryCall(
        &call->context_, call->call_.route.method, grpc::StubOptions(), &call->request_,
        &call->response_, [call](grpc::Status status) { call->OnUnaryDone(std::move(status)); });
    return;
  }
  call->call_.route.backend->stub->PrepareBidiStreamingCall(
      &call->context_, call->call_.route.method, grpc::StubOptions(), call);
  // Reads after the first start on the loop, outside gRPC's callbacks: the
  // hold keeps the call from ending until no more will (ReleaseHold).
  call->AddHold();
  call->StartNextRead();
  // As it came: a compressed message is not compressed again (its buffer says
  // it is compressed), nor is an uncompressed one in a call with an encoding.
  grpc::WriteOptions options;
  options.set_no_compression();
  call->StartWriteLast(&call->request_, options);
  call->StartCall();
}

WebCall::WebCall(event_base* base, CallRegistry* registry, CallRequest request)
    : registry_(registry),
      call_(std::move(request)),
      connection_(evhttp_request_get_connection(call_.request)),
      // A unary call with an encoding stays a stream: only a stream's writes
      // take the option that keeps gRPC from compressing an uncompressed
      // message in it.
      unary_(!call_.route.server_streaming && call_.encoding == GRPC_COMPRESS_NONE) {
  wake_ = event_new(base, -1, 0, &WebCall::OnWake, this);
  for (const auto& [name, value] : call_.metadata) {
    context_.AddMetadata(name, value);
  }
  if (call_.timeout.has_value()) {
    context_.set_deadline(absl::ToChronoTime(started_ + *call_.timeout));
  }
  if (call_.encoding != GRPC_COMPRESS_NONE) {
    // The backend sees the browser's grpc-encoding, which its compressed
    // messages need.
    context_.set_compression_algorithm(call_.encoding);
  }
}

WebCall::~WebCall() { event_free(wake_); }

void WebCall::OnUnaryDone(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      unary_headers_ = CopyMetadata(context_.GetServerInitialMetadata());
      unary_messages_.push_back(FromByteBuffer(response_));
    }
  }
  OnDone(status);
}

void WebCall::OnReadInitialMetadataDone(bool ok) {
  if (ok && !call_.route.server_streaming) {
    // A unary call's answer goes out whole at its end: one wake-up of the
    // loop per call rather than three.
    absl::MutexLock lock(&mu_);
    unary_headers_ = CopyMetadata(context_.GetServerInitialMetadata());
    return;
  }
  if (ok) {
    Post({.kind = Kind::kHeaders,
          .metadata = CopyMetadata(context_.GetServerInitialMetadata()),
          .bytes = {},
          .status = {}});
  }
}

void WebCall::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    read_outstanding_ = false;
  }
  if (!ok) {
    ReleaseHold();  // the stream has ended: no read will start again
    return;
  }
  if (!call_.route.server_streaming) {
    {
      absl::MutexLock lock(&mu_);
      unary_messages_.push_back(FromByteBuffer(response_));
    }
    StartNextRead();  // the end of the stream, normally
    return;
  }
  // The next read waits for the loop: it asks once the browser has taken
  // enough of this one (backpressure, so a slow reader holds little here).
  Post({.kind = Kind::kMessage, .metadata = {}, .bytes = FromByteBuffer(response_), .status = {}});
}

void WebCall::StartNextRead() {
  {
    absl::MutexLock lock(&mu_);
    if (hold_released_) {
      return;
    }
    read_outstanding_ = true;
  }
  StartRead(&response_);
}

void WebCall::ReleaseHold() {
  if (unary_) {
    return;  // not a stream: no hold
  }
  {
    absl::MutexLock lock(&mu_);
    if (hold_released_) {
      return;
    }
    hold_released_ = true;
  }
  RemoveHold();
}

void WebCall::ReleaseHoldUnlessReading() {
  bool reading;
  {
    absl::MutexLock lock(&mu_);
    reading = read_outstanding_;
  }
  if (!reading) {
    ReleaseHold();  // else that read's end releases it
  }
}

void WebCall::OnDone(const grpc::Status& status) {
  Post({.kind = Kind::kDone,
        .metadata = CopyMetadata(context_.GetServerTrailingMetadata()),
        .bytes = {},
        .status = status});
}

void WebCall::Post(Event event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
  // Under the lock: the loop deletes the call only after taking it, so the
  // event still exists here even for the last post.
  event_active(wake_, 0, 0);
}

void WebCall::OnWake(int /*fd*/, short /*what*/, void* arg) { static_cast<WebCall*>(arg)->Drain(); }

void WebCall::ClientGone() {
  client_gone_ = true;  // nothing more is written; Finish frees the request
  context_.TryCancel();
  ReleaseHoldUnlessReading();
}

void WebCall::Drain() {
  std::deque<Event> events;
  {
    absl::MutexLock lock(&mu_);
    events.swap(events_);
  }
  for (Event& event : events) {
    switch (event.kind) {
      case Kind::kHeaders:
        if (!client_gone_ && !headers_sent_) {
          SendHeaders(event.metadata);
        }
        break;
      case Kind::kMessage:
        if (client_gone_) {
          ReleaseHold();  // cancelled: no more reads
          break;
        }
        if (!headers_sent_) {
          SendHeaders({});
        }
        SendMessage(event.bytes);
        break;
      case Kind::kDone:
        SendUnaryAnswer();
        Finish(event);
        registry_->Remove(this, connection_);
        delete this;
        return;
    }
  }
}

void WebCall::SendUnaryAnswer() {
  Headers headers;
  std::vector<std::string> messages;
  {
    absl::MutexLock lock(&mu_);
    headers.swap(unary_headers_);
    messages.swap(unary_messages_);
  }
  if (client_gone_ || messages.empty()) {
    return;  // nothing to send, or trailers-only
  }
  SendHeaders(headers);
  for (const std::string& message : messages) {
    std::string frame = EncodeFrame(0, message);
    SendChunk(std::move(frame));
  }
}

void WebCall::SendHeaders(const Headers& backend_headers) {
  Headers headers = {{"Content-Type", std::string(ResponseContentType(call_.mode))}};
  headers.insert(headers.end(), call_.cors.begin(), call_.cors.end());
  for (const auto& [name, value] : backend_headers) {
    // The messages reach the browser uncompressed (gRPC inflates whatever a
    // backend compresses), so a backend's grpc-encoding must not go with them.
    if (name != "content-type" && name != "grpc-encoding" && !absl::StartsWith(name, ":")) {
      headers.emplace_back(name, value);
    }
  }
  AddHeaders(call_.request, headers);
  // A stream may stay quiet between messages for as long as its backend
  // keeps it open (keep-alives come every 15 s): the idle limit while the
  // response streams is the stream's, not the request read timeout.
  evhttp_connection_set_timeout(evhttp_request_get_connection(call_.request),
                                static_cast<int>(absl::ToInt64Seconds(call_.stream_timeout)));
  evhttp_send_reply_start(call_.request, 200, "OK");
  headers_sent_ = true;
}

void WebCall::SendMessage(const std::string& bytes) {
  std::string frame = EncodeFrame(0, bytes);
  if (call_.mode == WebMode::kText) {
    frame = EncodeText(frame);
  }
  bufferevent* socket = evhttp_connection_get_bufferevent(connection_);
  const bool backlog =
      evbuffer_get_length(bufferevent_get_output(socket)) + frame.size() > kMaxUnsentBytes;
  evbuffer* buffer = evbuffer_new();
  evbuffer_add(buffer, frame.data(), frame.size());
  if (backlog) {
    // The next read once the socket has taken all of it.
    evhttp_send_reply_chunk_with_cb(call_.request, buffer, &WebCall::OnFlushed, this);
  } else {
    evhttp_send_reply_chunk(call_.request, buffer);
  }
  evbuffer_free(buffer);
  bytes_out_ += frame.size();
  if (!backlog) {
    StartNextRead();
  }
}

void WebCall::OnFlushed(evhttp_connection* /*connection*/, void* arg) {
  auto* self = static_cast<WebCall*>(arg);
  if (!self->client_gone_) {
    self->StartNextRead();
  }
}

void WebCall::SendChunk(std::string bytes) {
  if (call_.mode == WebMode::kText) {
    bytes = EncodeText(bytes);  // each frame on its own, with its padding
  }
  evbuffer* buffer = evbuffer_new();
  evbuffer_add(buffer, bytes.data(), bytes.size());
  evhttp_send_reply_chunk(call_.request, buffer);
  evbuffer_free(buffer);
  bytes_out_ += bytes.size();
}

void WebCall::Finish(const Event& done) {
  const grpc::Status status =
      shutting_down_ && done.status.error_code() == grpc::StatusCode::CANCELLED
          ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "gateway shutting down")
          : done.status;
  Headers trailers = {{"grpc-status", absl::StrCat(static_cast<int>(status.error_code()))}};
  if (!status.error_message().empty()) {
    trailers.emplace_back("grpc-message", PercentEncode(status.error_message()));
  }
  if (!status.error_details().empty()) {
    trailers.emplace_back("grpc-status-details-bin", absl::Base64Escape(status.error_details()));
  }
  for (const auto& [name, value] : done.metadata) {
    if (!absl::StartsWith(name, "grpc-")) {
      trailers.emplace_back(name, value);
    }
  }
  if (client_gone_) {
    // evhttp detached the unfinished request from the closed connection and
    // left it to us: ending it frees it (nothing is sent).
    evhttp_send_reply_end(call_.request);
  } else {
    if (!headers_sent_) {
      // Trailers-only: the status in the headers, an empty body.
      Headers headers = {{"Content-Type", std::string(ResponseContentType(call_.mode))}};
      headers.insert(headers.end(), call_.cors.begin(), call_.cors.end());
      headers.insert(headers.end(), trailers.begin(), trailers.end());
      AddHeaders(call_.request, headers);
      evhttp_send_reply(call_.request, 200, "OK", nullptr);
    } else {
      SendChunk(EncodeFrame(kTrailerFlag, TrailerBlock(trailers)));
      evhttp_send_reply_end(call_.request);
    }
  }
  log::Info("call")
      .Str("method", call_.route.method)
      .Str("grpc_status", absl::StrCat(static_cast<int>(status.error_code())))
      .Int("latency_us", absl::ToInt64Microseconds(absl::Now() - started_))
      .Int("bytes_in", static_cast<int64_t>(call_.bytes_in))
      .Int("bytes_out", static_cast<int64_t>(bytes_out_))
      .Str("origin", call_.origin)
      .Str("client", call_.client)
      .Str("client_gone", client_gone_ ? "true" : "false");
}

}  // namespace crm::gateway
