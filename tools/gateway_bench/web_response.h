#pragma once

// The client side of gRPC-web over HTTP/1.1 (grpc/grpc doc/PROTOCOL-WEB.md),
// as crm-gateway-bench speaks it to crm-gateway: the bytes of a POST
// carrying one request message, and an incremental parser of the responses
// that come back on a keep-alive connection. Pure code, no sockets.
//
//   std::string request = EncodeWebRequest("127.0.0.1:8080",
//       "/crm.auth.v1.UserService/GetUser", {{"authorization", "Bearer …"}}, bytes);
//   WebResponseParser parser;
//   std::vector<WebEvent> events;
//   ... each read:  if (!parser.Feed(data, &events).ok()) close the connection;
//   ... events: kHeaders (the response has begun: for a server stream, the
//       watch is live), kMessage (one data frame's payload), kEnd (the
//       response is complete: grpc-status from the trailer frame, or from the
//       headers for a trailers-only answer).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::gateway_bench {

// The whole HTTP/1.1 request: POST `path`, content type
// application/grpc-web+proto, keep-alive, the `headers` given (name, value),
// and a body of one uncompressed data frame holding `message`.
std::string EncodeWebRequest(absl::string_view host, absl::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view message);

struct WebEvent {
  enum class Kind { kHeaders, kMessage, kEnd };
  Kind kind = Kind::kHeaders;
  int http_status = 0;         // every kind
  bool trailers_only = false;  // kHeaders and kEnd: grpc-status came in the headers
  std::string payload;         // kMessage: the message's bytes
  // kEnd: the call's status, from the trailer frame or the headers; -1 when
  // the response carried none (not a gRPC-web answer, or cut short).
  int grpc_status = -1;
  std::string grpc_message;  // kEnd, percent-decoded
  bool keep_alive = true;    // kEnd: false when the server said Connection: close
};

class WebResponseParser {
 public:
  // Consumes `bytes` (any split of the stream) and appends what they
  // complete. Responses follow one another on a connection: after a kEnd,
  // the next bytes begin the next response. INVALID_ARGUMENT for anything
  // malformed (the connection is then beyond use).
  absl::Status Feed(absl::string_view bytes, std::vector<WebEvent>* events);

  // True between a response's first byte and its kEnd.
  bool InResponse() const { return state_ != State::kStatusLine || pos_ < buffer_.size(); }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kChunkSize,
    kChunkData,
    kChunkEnd,
    kChunkTrailers,
    kFixedBody
  };

  // Parses what it can in the current state; `progressed` false when it
  // needs more bytes.
  absl::Status Step(bool* progressed, std::vector<WebEvent>* events);
  // The next CRLF-terminated line from buffer_ (consumed), or false.
  bool NextLine(absl::string_view* line);
  absl::Status OnHeaderLine(absl::string_view line);
  absl::Status HeadersDone(std::vector<WebEvent>* events);
  absl::Status Body(absl::string_view bytes, std::vector<WebEvent>* events);
  absl::Status End(std::vector<WebEvent>* events);
  void Reset();

  State state_ = State::kStatusLine;
  std::string buffer_;  // bytes received, consumed up to pos_
  size_t pos_ = 0;
  size_t header_bytes_ = 0;
  // The current response.
  int http_status_ = 0;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool grpc_web_ = false;
  uint64_t remaining_ = 0;  // of the chunk or of the fixed-length body
  int header_grpc_status_ = -1;
  std::string header_grpc_message_;
  std::string frames_;  // body bytes not yet a whole frame
  int trailer_grpc_status_ = -1;
  std::string trailer_grpc_message_;
};

// grpc-message's percent-encoding undone (%XX); other bytes kept.
std::string PercentDecode(absl::string_view text);

}  // namespace crm::gateway_bench
