#include "services/gateway/grpc_web.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace crm::gateway {

std::optional<WebMode> ModeOfContentType(absl::string_view content_type) {
  absl::string_view type = content_type.substr(0, content_type.find(';'));
  type = absl::StripAsciiWhitespace(type);
  const std::string lower = absl::AsciiStrToLower(type);
  if (lower == "application/grpc-web" || lower == "application/grpc-web+proto") {
    return WebMode::kBinary;
  }
  if (lower == "application/grpc-web-text" || lower == "application/grpc-web-text+proto") {
    return WebMode::kText;
  }
  return std::nullopt;
}

absl::string_view ResponseContentType(WebMode mode) {
  return mode == WebMode::kText ? "application/grpc-web-text+proto" : "application/grpc-web+proto";
}

absl::StatusOr<std::vector<Frame>> ParseRequestFrames(absl::string_view body,
                                                      size_t max_message_bytes) {
  std::vector<Frame> frames;
  while (!body.empty()) {
    if (body.size() < 5) {
      return absl::InvalidArgumentError("request body ends inside a frame header");
    }
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(body[i]); };
    const uint8_t flags = byte(0);
    const uint32_t length = (uint32_t{byte(1)} << 24) | (uint32_t{byte(2)} << 16) |
                            (uint32_t{byte(3)} << 8) | uint32_t{byte(4)};
    if (flags & kTrailerFlag) {
      return absl::InvalidArgumentError("a request carries no trailer frame");
    }
    if (length > max_message_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "request message of ", length, " bytes exceeds the limit of ", max_message_bytes));
    }
    if (body.size() - 5 < length) {
      return absl::InvalidArgumentError("request body ends inside a message");
    }
    frames.push_back(Frame{.flags = flags, .payload = std::string(body.substr(5, length))});
    body.remove_prefix(5 + length);
  }
  return frames;
}

std::string EncodeFrame(uint8_t flags, absl::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  const auto length = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((length >> 24) & 0xff));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
  out.append(payload.data(), payload.size());
  return out;
}

std::string TrailerBlock(const std::vector<std::pair<std::string, std::string>>& trailers) {
  std::string out;
  for (const auto& [name, value] : trailers) {
    absl::StrAppend(&out, absl::AsciiStrToLower(name), ": ", value, "\r\n");
  }
  return out;
}

absl::StatusOr<std::string> DecodeTextBody(absl::string_view body) {
  if (body.size() % 4 != 0) {
    return absl::InvalidArgumentError("grpc-web-text body length is not a multiple of 4");
  }
  std::string out;
  out.reserve(body.size() / 4 * 3);
  std::string group;
  for (size_t i = 0; i < body.size(); i += 4) {
    if (!absl::Base64Unescape(body.substr(i, 4), &group)) {
      return absl::InvalidArgumentError("grpc-web-text body is not base64");
    }
    out += group;
  }
  return out;
}

std::string EncodeText(absl::string_view bytes) { return absl::Base64Escape(bytes); }

std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  if (value.size() < 2 || value.size() > 9) {  // at most 8 digits and a unit
    return std::nullopt;
  }
  int64_t amount = 0;
  if (!absl::SimpleAtoi(value.substr(0, value.size() - 1), &amount) || amount < 0) {
    return std::nullopt;
  }
  switch (value.back()) {
    case 'H':
      return absl::Hours(amount);
    case 'M':
      return absl::Minutes(amount);
    case 'S':
      return absl::Seconds(amount);
    case 'm':
      return absl::Milliseconds(amount);
    case 'u':
      return absl::Microseconds(amount);
    case 'n':
      return absl::Nanoseconds(amount);
    default:
      return std::nullopt;
  }
}

std::string PercentEncode(absl::string_view message) {
  std::string out;
  for (const char c : message) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7e || c == '%') {
      absl::StrAppendFormat(&out, "%%%02X", b);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace crm::gateway
