#include "services/gateway/http_gateway.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "services/gateway/message_encoding.h"

namespace crm::gateway {
namespace {

// Request headers that are HTTP's business, not the call's metadata. gRPC's
// own are set by the backend call itself: its deadline from grpc-timeout, its
// compression algorithm from grpc-encoding, and its grpc-accept-encoding says
// what the gateway's gRPC client decodes (any answer reaches the browser
// uncompressed).
bool IsHttpOnly(absl::string_view name) {
  static constexpr absl::string_view kHttpOnly[] = {"host",
                                                    "connection",
                                                    "content-length",
                                                    "content-type",
                                                    "transfer-encoding",
                                                    "te",
                                                    "keep-alive",
                                                    "upgrade",
                                                    "accept",
                                                    "accept-encoding",
                                                    "accept-language",
                                                    "origin",
                                                    "referer",
                                                    "cookie",
                                                    "user-agent",
                                                    "x-grpc-web",
                                                    "grpc-timeout",
                                                    "grpc-encoding",
                                                    "grpc-accept-encoding",
                                                    "x-forwarded-for",
                                                    "pragma",
                                                    "cache-control",
                                                    "dnt",
                                                    "priority"};
  for (absl::string_view h : kHttpOnly) {
    if (name == h) {
      return true;
    }
  }
  return absl::StartsWith(name, "sec-") || absl::StartsWith(name, "proxy-") ||
         absl::StartsWith(name, "access-control-");
}

bool ValidMetadataName(absl::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

const char* Header(evhttp_request* request, const char* name) {
  return evhttp_find_header(evhttp_request_get_input_headers(request), name);
}

std::string PeerAddress(evhttp_request* request) {
  char* address = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(evhttp_request_get_connection(request), &address, &port);
  return address == nullptr ? "" : address;
}

void Reply(evhttp_request* request, int code, const char* reason, const std::string& type,
           const std::string& body, const Headers& extra = {}) {
  evkeyvalq* out = evhttp_request_get_output_headers(request);
  if (!type.empty()) {
    evhttp_add_header(out, "Content-Type", type.c_str());
  }
  for (const auto& [name, value] : extra) {
    evhttp_add_header(out, name.c_str(), value.c_str());
  }
  evbuffer* buffer = evbuffer_new();
  evbuffer_add(buffer, body.data(), body.size());
  evhttp_send_reply(request, code, reason, buffer);
  evbuffer_free(buffer);
}

}  // namespace

HttpGateway::HttpGateway(HttpGatewayOptions options, Backends* backends, const CorsPolicy* cors,
                         JwksCache* jwks)
    : options_(std::move(options)), backends_(backends), cors_(cors), jwks_(jwks) {
  evthread_use_pthreads();  // gRPC's threads wake the loop (event_active)
  // evhttp turns a connection's read and write interest on and off around
  // every request and response: with the changelist those changes reach
  // epoll once per loop iteration (one epoll_ctl, often none) instead of
  // one system call each.
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  base_ = event_base_new_with_config(config);
  event_config_free(config);
  http_ = evhttp_new(base_);
  // Past twice the limit the HTTP layer itself refuses the body (413);
  // between the two, the gateway answers in gRPC-web.
  evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(options_.max_body_bytes * 2));
  evhttp_set_max_headers_size(http_, 64 * 1024);
  evhttp_set_timeout(http_, static_cast<int>(absl::ToInt64Seconds(options_.read_timeout)));
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_OPTIONS);
  evhttp_set_gencb(http_, &HttpGateway::OnRequest, this);
  stop_event_ = event_new(base_, -1, 0, &HttpGateway::OnStop, this);
  drain_timer_ = event_new(base_, -1, EV_PERSIST, &HttpGateway::OnDrainTick, this);
}

HttpGateway::~HttpGateway() {
  event_free(drain_timer_);
  event_free(stop_event_);
  evhttp_free(http_);
  event_base_free(base_);
}

absl::Status HttpGateway::Bind() {
  std::vector<std::string> parts = absl::StrSplit(options_.listen, absl::MaxSplits(':', 1));
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: not host:port: ", options_.listen));
  }
  socket_ = evhttp_bind_socket_with_handle(http_, parts[0].c_str(), static_cast<ev_uint16_t>(port));
  if (socket_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen,
                                               " (in use, or not an address of this host)"));
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(evhttp_bound_socket_get_fd(socket_), reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  return absl::OkStatus();
}

void HttpGateway::Run() { event_base_dispatch(base_); }

void HttpGateway::Stop(absl::Duration drain) {
  drain_ms_ = absl::ToInt64Milliseconds(drain);
  event_active(stop_event_, 0, 0);
}

void HttpGateway::OnStop(int /*fd*/, short /*what*/, void* arg) {
  auto* self = static_cast<HttpGateway*>(arg);
  if (self->draining_) {
    return;
  }
  self->draining_ = true;
  if (self->socket_ != nullptr) {
    evhttp_del_accept_socket(self->http_, self->socket_);  // no new connections
    self->socket_ = nullptr;
  }
  self->drain_deadline_ = absl::Now() + absl::Milliseconds(self->drain_ms_.load());
  log::Info("draining").Int("calls", static_cast<int64_t>(self->calls_.size()));
  const timeval tick = {0, 100 * 1000};
  event_add(self->drain_timer_, &tick);
}

void HttpGateway::OnDrainTick(int /*fd*/, short /*what*/, void* arg) {
  auto* self = static_cast<HttpGateway*>(arg);
  if (self->calls_.empty()) {
    event_base_loopexit(self->base_, nullptr);
    return;
  }
  if (absl::Now() >= self->drain_deadline_) {
    for (WebCall* call : self->calls_) {
      call->Cancel();  // each ends through its own OnDone
    }
  }
}

void HttpGateway::Add(WebCall* call, evhttp_connection* connection) {
  calls_.insert(call);
  connections_[connection] = call;
}

void HttpGateway::Remove(WebCall* call, evhttp_connection* connection) {
  calls_.erase(call);
  auto it = connections_.find(connection);
  if (it != connections_.end() && it->second == call) {
    it->second = nullptr;  // the connection stays, for its next request
  }
}

void HttpGateway::OnConnectionClosed(evhttp_connection* connection, void* arg) {
  auto* self = static_cast<HttpGateway*>(arg);
  auto it = self->connections_.find(connection);
  if (it == self->connections_.end()) {
    return;
  }
  if (it->second != nullptr) {
    it->second->ClientGone();  // cancels the backend call at once
  }
  self->connections_.erase(it);
}

bool HttpGateway::Admit(evhttp_request* request, const std::string& origin) {
  evhttp_connection* connection = evhttp_request_get_connection(request);
  if (connections_.contains(connection)) {
    return true;
  }
  if (connections_.size() >= options_.max_connections) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Connection", "close");
    Refuse(request, WebMode::kBinary,
           WithRetryDelay(absl::ResourceExhaustedError("the gateway has as many connections open "
                                                       "as it allows; try again later"),
                          absl::Seconds(1)),
           origin);
    return false;
  }
  connections_.emplace(connection, nullptr);
  evhttp_connection_set_closecb(connection, &HttpGateway::OnConnectionClosed, this);
  // Each message is written as it comes: Nagle's algorithm would hold a small
  // one back until the browser's delayed ACK (~40 ms).
  const int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(connection));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return true;
}

void HttpGateway::OnRequest(evhttp_request* request, void* arg) {
  static_cast<HttpGateway*>(arg)->Handle(request);
}

void HttpGateway::Handle(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* raw_path = uri == nullptr ? nullptr : evhttp_uri_get_path(uri);
  const std::string path = raw_path == nullptr ? "/" : raw_path;
  const char* origin_header = Header(request, "Origin");
  const std::string origin = origin_header == nullptr ? "" : origin_header;
  if (!Admit(request, origin)) {
    return;
  }
  switch (evhttp_request_get_command(request)) {
    case EVHTTP_REQ_OPTIONS:
      HandlePreflight(request, origin);
      return;
    case EVHTTP_REQ_GET:
      HandleGet(request, path);
      return;
    case EVHTTP_REQ_POST:
      HandleCall(request, path, origin);
      return;
    default:
      Reply(request, 405, "Method Not Allowed", "text/plain", "POST, OPTIONS or GET\n");
  }
}

void HttpGateway::HandlePreflight(evhttp_request* request, const std::string& origin) {
  const char* asked = Header(request, "Access-Control-Request-Headers");
  Headers headers = cors_->PreflightHeaders(origin, asked == nullptr ? "" : asked);
  if (headers.empty()) {
    Reply(request, 403, "Forbidden", "text/plain", "origin not allowed\n");
    return;
  }
  Reply(request, 204, "No Content", "", "", headers);
}

void HttpGateway::HandleGet(evhttp_request* request, const std::string& path) {
  if (path == "/.well-known/jwks.json") {
    std::optional<std::string> keys = jwks_->Get();
    if (!keys.has_value()) {
      Reply(request, 503, "Service Unavailable", "application/json",
            R"({"error":"auth's keys not fetched yet"})");
      return;
    }
    Reply(request, 200, "OK", "application/json", *keys, {{"Cache-Control", "max-age=60"}});
    return;
  }
  if (path == "/healthz") {
    const std::vector<std::string> unhealthy = backends_->Unhealthy();
    if (unhealthy.empty() && !draining_) {
      Reply(request, 200, "OK", "application/json", R"({"status":"SERVING"})");
      return;
    }
    nlohmann::json body = {{"status", "NOT_SERVING"}, {"unhealthy", unhealthy}};
    if (draining_) {
      body["draining"] = true;
    }
    Reply(request, 503, "Service Unavailable", "application/json", body.dump());
    return;
  }
  Reply(request, 404, "Not Found", "text/plain",
        "gRPC-web calls are POST /<package>.<Service>/<Method>\n");
}

void HttpGateway::Refuse(evhttp_request* request, WebMode mode, const absl::Status& status,
                         const std::string& origin, const Headers& extra) {
  const grpc::Status grpc_status = ToGrpcStatus(status);
  Headers headers = cors_->ResponseHeaders(origin);
  headers.emplace_back("grpc-status", absl::StrCat(static_cast<int>(grpc_status.error_code())));
  headers.emplace_back("grpc-message", PercentEncode(grpc_status.error_message()));
  if (!grpc_status.error_details().empty()) {
    headers.emplace_back("grpc-status-details-bin",
                         absl::Base64Escape(grpc_status.error_details()));
  }
  headers.insert(headers.end(), extra.begin(), extra.end());
  Reply(request, 200, "OK", std::string(ResponseContentType(mode)), "", headers);
  log::Info("call")
      .Str("method", evhttp_request_get_uri(request))
      .Str("grpc_status", absl::StrCat(static_cast<int>(grpc_status.error_code())))
      .Str("refused_by", "gateway")
      .Str("origin", origin)
      .Str("client", PeerAddress(request));
}

void HttpGateway::HandleCall(evhttp_request* request, const std::string& path,
                             const std::string& origin) {
  const char* content_type = Header(request, "Content-Type");
  const std::optional<WebMode> mode =
      ModeOfContentType(content_type == nullptr ? "" : content_type);
  if (!mode.has_value()) {
    Reply(request, 415, "Unsupported Media Type", "text/plain",
          "gRPC-web calls are application/grpc-web(+proto) or application/grpc-web-text(+proto)\n",
          cors_->ResponseHeaders(origin));
    return;
  }
  if (!origin.empty() && !cors_->Allowed(origin)) {
    // No CORS headers: a browser refuses the answer.
    Refuse(request, *mode, absl::PermissionDeniedError("origin not allowed"), origin);
    return;
  }
  if (draining_) {
    Refuse(request, *mode,
           WithRetryDelay(absl::UnavailableError("gateway shutting down"), absl::Seconds(1)),
           origin);
    return;
  }
  absl::StatusOr<Route> route = backends_->Resolve(path);
  if (!route.ok()) {
    Refuse(request, *mode, route.status(), origin);
    return;
  }
  const char* encoding_header = Header(request, "grpc-encoding");
  const absl::StatusOr<grpc_compression_algorithm> encoding =
      ParseMessageEncoding(encoding_header == nullptr ? "" : encoding_header);
  if (!encoding.ok()) {
    // As a gRPC server answers an encoding it lacks: with the ones it takes.
    Refuse(request, *mode, encoding.status(), origin,
           {{"grpc-accept-encoding", std::string(kSupportedEncodings)}});
    return;
  }
  evbuffer* input = evhttp_request_get_input_buffer(request);
  const size_t length = evbuffer_get_length(input);
  if (length > options_.max_body_bytes) {
    Refuse(request, *mode,
           absl::ResourceExhaustedError(absl::StrCat("request body of ", length,
                                                     " bytes exceeds the gateway's limit of ",
                                                     options_.max_body_bytes)),
           origin);
    return;
  }
  std::string body(length, '\0');
  evbuffer_copyout(input, body.data(), length);
  if (*mode == WebMode::kText) {
    absl::StatusOr<std::string> decoded = DecodeTextBody(body);
    if (!decoded.ok()) {
      Reply(request, 400, "Bad Request", "text/plain",
            std::string(decoded.status().message()) + "\n", cors_->ResponseHeaders(origin));
      return;
    }
    body = *std::move(decoded);
  }
  absl::StatusOr<std::vector<Frame>> frames = ParseRequestFrames(body, options_.max_message_bytes);
  if (frames.ok() && frames->size() != 1) {
    frames = absl::InvalidArgumentError(
        absl::StrCat("a unary or server-streaming call takes exactly one request message, not ",
                     frames->size()));
  }
  if (!frames.ok()) {
    Refuse(request, *mode, frames.status(), origin);
    return;
  }
  // Passed through as it came, compressed or not.
  absl::StatusOr<WireMessage> message = ToWireMessage(std::move(frames->front()), *encoding);
  if (!message.ok()) {
    Refuse(request, *mode, message.status(), origin);
    return;
  }
  // A backend's gRPC inflates a compressed message whole before its receive
  // limit refuses it, so a body of a few MiB could cost it gigabytes. The
  // gateway inflates it first, only counting, and stops past its own message
  // limit (4 MiB by default, as the backends'). On the event loop, but bounded
  // by the limit: under 10 ms for 4 MiB.
  if (const absl::Status inflated =
          CheckInflatedSize(message->compression, message->bytes, options_.max_message_bytes);
      !inflated.ok()) {
    Refuse(request, *mode, inflated, origin);
    return;
  }

  CallRequest call{.request = request,
                   .route = *std::move(route),
                   .mode = *mode,
                   .message = *std::move(message),
                   .encoding = *encoding,
                   .metadata = {},
                   .timeout = std::nullopt,
                   .cors = cors_->ResponseHeaders(origin),
                   .origin = origin,
                   .client = PeerAddress(request),
                   .bytes_in = length,
                   .stream_timeout = options_.stream_idle_timeout};
  std::string forwarded_for;
  for (evkeyval* h = evhttp_request_get_input_headers(request)->tqh_first; h != nullptr;
       h = h->next.tqe_next) {
    const std::string name = absl::AsciiStrToLower(h->key);
    if (name == "grpc-timeout") {
      call.timeout = ParseGrpcTimeout(h->value);
      if (!call.timeout.has_value()) {
        Refuse(request, *mode, absl::InvalidArgumentError("grpc-timeout is malformed"), origin);
        return;
      }
      continue;
    }
    if (name == "x-forwarded-for") {
      forwarded_for = h->value;
      continue;
    }
    if (IsHttpOnly(name) || !ValidMetadataName(name)) {
      continue;
    }
    std::string value = h->value;
    if (absl::EndsWith(name, "-bin")) {
      std::string raw;
      if (!absl::Base64Unescape(value, &raw) && !absl::WebSafeBase64Unescape(value, &raw)) {
        continue;
      }
      value = std::move(raw);
    }
    call.metadata.emplace_back(name, std::move(value));
  }
  // The client's address for the backend (auth's throttling): an edge proxy's
  // list is kept only when that proxy is trusted.
  const bool trusted = options_.trusted_proxies.Contains(call.client);
  call.metadata.emplace_back("x-forwarded-for", trusted && !forwarded_for.empty()
                                                    ? absl::StrCat(forwarded_for, ", ", call.client)
                                                    : call.client);
  WebCall::Start(base_, this, std::move(call));
}

}  // namespace crm::gateway
