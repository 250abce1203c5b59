#pragma once

// The gRPC-web wire format (grpc/grpc doc/PROTOCOL-WEB.md), as pure
// functions: content types, length-prefixed frames, the trailer frame, the
// text mode's base64, grpc-timeout and grpc-message's percent-encoding.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crm::gateway {

enum class WebMode { kBinary, kText };

// application/grpc-web, application/grpc-web+proto → binary;
// application/grpc-web-text(+proto) → text; anything else (another codec,
// such as +json, included) → nullopt. Parameters after ';' are ignored.
std::optional<WebMode> ModeOfContentType(absl::string_view content_type);

// The content type of a response in `mode` (always +proto).
absl::string_view ResponseContentType(WebMode mode);

inline constexpr uint8_t kCompressedFlag = 0x01;
inline constexpr uint8_t kTrailerFlag = 0x80;

struct Frame {
  uint8_t flags = 0;
  std::string payload;
};

// The frames of a request body. INVALID_ARGUMENT for a truncated frame, a
// frame longer than `max_message_bytes`, or a trailer frame (only responses
// carry one).
absl::StatusOr<std::vector<Frame>> ParseRequestFrames(absl::string_view body,
                                                      size_t max_message_bytes);

// One frame: the flags byte, the payload's length (4 bytes, big-endian), the payload.
std::string EncodeFrame(uint8_t flags, absl::string_view payload);

// The trailer frame's payload: "name: value\r\n" per trailer, names
// lower-cased.
std::string TrailerBlock(const std::vector<std::pair<std::string, std::string>>& trailers);

// A text-mode body: base64 in groups of four characters, each group decoded
// on its own (so a body made of several padded chunks decodes too).
// INVALID_ARGUMENT when the length is not a multiple of 4 or a group is not
// base64.
absl::StatusOr<std::string> DecodeTextBody(absl::string_view body);
std::string EncodeText(absl::string_view bytes);

// grpc-timeout ("100m", "5S", "1H"...) as a duration; nullopt when malformed.
std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value);

// grpc-message's encoding: bytes outside 0x20..0x7E and '%' as %XX.
std::string PercentEncode(absl::string_view message);

}  // namespace crm::gateway
