#include "tools/gateway_bench/web_response.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::gateway_bench {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr uint32_t kMaxFrameBytes = 4 << 20;
constexpr uint8_t kTrailerFlag = 0x80;
constexpr uint8_t kCompressedFlag = 0x01;

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed gRPC-web response: ", what));
}

// "name: value" → lower-cased name and trimmed value; false without a colon.
bool SplitHeader(absl::string_view line, std::string* name, absl::string_view* value) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return false;
  }
  *name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  *value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::string EncodeWebRequest(absl::string_view host, absl::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view message) {
  const uint32_t length = static_cast<uint32_t>(message.size());
  std::string out = absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: ", host,
                                 "\r\nContent-Type: application/grpc-web+proto\r\n"
                                 "Accept: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
                                 "Content-Length: ",
                                 message.size() + 5, "\r\n");
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  out += "\r\n";
  out += '\0';
  out += static_cast<char>((length >> 24) & 0xff);
  out += static_cast<char>((length >> 16) & 0xff);
  out += static_cast<char>((length >> 8) & 0xff);
  out += static_cast<char>(length & 0xff);
  out.append(message.data(), message.size());
  return out;
}

std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
        HexDigit(text[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

absl::Status WebResponseParser::Feed(absl::string_view bytes, std::vector<WebEvent>* events) {
  buffer_.append(bytes.data(), bytes.size());
  absl::Status status;
  while (status.ok()) {
    bool progressed = false;
    status = Step(&progressed, events);
    if (!progressed) {
      break;
    }
  }
  buffer_.erase(0, pos_);
  pos_ = 0;
  return status;
}

bool WebResponseParser::NextLine(absl::string_view* line) {
  const size_t end = buffer_.find("\r\n", pos_);
  if (end == std::string::npos) {
    return false;
  }
  *line = absl::string_view(buffer_).substr(pos_, end - pos_);
  pos_ = end + 2;
  return true;
}

absl::Status WebResponseParser::Step(bool* progressed, std::vector<WebEvent>* events) {
  const size_t available = buffer_.size() - pos_;
  absl::string_view line;
  switch (state_) {
    case State::kStatusLine:
    case State::kHeaders:
    case State::kChunkSize:
    case State::kChunkTrailers:
      if (!NextLine(&line)) {
        if (available > kMaxHeaderBytes) {
          return Malformed("a line longer than 64 KiB");
        }
        return absl::OkStatus();
      }
      *progressed = true;
      break;
    case State::kChunkData:
    case State::kFixedBody: {
      if (available == 0) {
        return absl::OkStatus();
      }
      *progressed = true;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
      absl::Status s = Body(absl::string_view(buffer_).substr(pos_, n), events);
      pos_ += n;
      remaining_ -= n;
      if (!s.ok()) {
        return s;
      }
      if (remaining_ == 0) {
        if (state_ == State::kFixedBody) {
          return End(events);
        }
        state_ = State::kChunkEnd;
      }
      return absl::OkStatus();
    }
    case State::kChunkEnd:
      if (available < 2) {
        return absl::OkStatus();
      }
      *progressed = true;
      if (buffer_.compare(pos_, 2, "\r\n") != 0) {
        return Malformed("a chunk not followed by CRLF");
      }
      pos_ += 2;
      state_ = State::kChunkSize;
      return absl::OkStatus();
  }

  switch (state_) {
    case State::kStatusLine: {
      // "HTTP/1.1 200 OK"
      std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 2));
      if (parts.size() < 2 || !absl::StartsWith(parts[0], "HTTP/1.") ||
          !absl::SimpleAtoi(parts[1], &http_status_) || http_status_ < 100 || http_status_ > 999) {
        return Malformed(absl::StrCat("status line '", line.substr(0, 80), "'"));
      }
      keep_alive_ = parts[0] != "HTTP/1.0";
      header_bytes_ = line.size();
      state_ = State::kHeaders;
      return absl::OkStatus();
    }
    case State::kHeaders:
      header_bytes_ += line.size() + 2;
      if (header_bytes_ > kMaxHeaderBytes) {
        return Malformed("headers longer than 64 KiB");
      }
      if (line.empty()) {
        return HeadersDone(events);
      }
      return OnHeaderLine(line);
    case State::kChunkSize: {
      const absl::string_view size_text =
          absl::StripAsciiWhitespace(line.substr(0, line.find(';')));
      uint64_t size = 0;
      if (size_text.empty() || size_text.size() > 15) {
        return Malformed("a chunk size");
      }
      for (char c : size_text) {
        const int digit = HexDigit(c);
        if (digit < 0) {
          return Malformed("a chunk size");
        }
        size = size * 16 + static_cast<uint64_t>(digit);
      }
      if (size == 0) {
        state_ = State::kChunkTrailers;
      } else {
        remaining_ = size;
        state_ = State::kChunkData;
      }
      return absl::OkStatus();
    }
    case State::kChunkTrailers:
      // HTTP trailers (gRPC-web carries its own in a frame): skipped.
      return line.empty() ? End(events) : absl::OkStatus();
    default:
      return absl::InternalError("unreachable");
  }
}

absl::Status WebResponseParser::OnHeaderLine(absl::string_view line) {
  std::string name;
  absl::string_view value;
  if (!SplitHeader(line, &name, &value)) {
    return Malformed(absl::StrCat("header line '", line.substr(0, 80), "'"));
  }
  if (name == "content-length") {
    if (!absl::SimpleAtoi(value, &remaining_)) {
      return Malformed("content-length");
    }
  } else if (name == "transfer-encoding") {
    chunked_ = absl::StrContains(absl::AsciiStrToLower(value), "chunked");
  } else if (name == "connection") {
    if (absl::EqualsIgnoreCase(value, "close")) {
      keep_alive_ = false;
    } else if (absl::EqualsIgnoreCase(value, "keep-alive")) {
      keep_alive_ = true;
    }
  } else if (name == "content-type") {
    grpc_web_ = absl::StartsWithIgnoreCase(value, "application/grpc-web") &&
                !absl::StartsWithIgnoreCase(value, "application/grpc-web-text");
  } else if (name == "grpc-status") {
    if (!absl::SimpleAtoi(value, &header_grpc_status_) || header_grpc_status_ < 0) {
      return Malformed("grpc-status header");
    }
  } else if (name == "grpc-message") {
    header_grpc_message_ = PercentDecode(value);
  }
  return absl::OkStatus();
}

absl::Status WebResponseParser::HeadersDone(std::vector<WebEvent>* events) {
  WebEvent headers;
  headers.kind = WebEvent::Kind::kHeaders;
  headers.http_status = http_status_;
  headers.trailers_only = header_grpc_status_ >= 0;
  events->push_back(std::move(headers));
  if (chunked_) {
    remaining_ = 0;
    state_ = State::kChunkSize;
    return absl::OkStatus();
  }
  if (remaining_ > 0) {
    state_ = State::kFixedBody;
    return absl::OkStatus();
  }
  return End(events);
}

absl::Status WebResponseParser::Body(absl::string_view bytes, std::vector<WebEvent>* events) {
  if (!grpc_web_ || http_status_ != 200) {
    return absl::OkStatus();  // an HTTP error page: not frames
  }
  frames_.append(bytes.data(), bytes.size());
  size_t at = 0;
  while (frames_.size() - at >= 5) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(frames_[at + i]); };
    const uint8_t flags = byte(0);
    const uint32_t length = (static_cast<uint32_t>(byte(1)) << 24) |
                            (static_cast<uint32_t>(byte(2)) << 16) |
                            (static_cast<uint32_t>(byte(3)) << 8) | byte(4);
    if (length > kMaxFrameBytes) {
      return Malformed(absl::StrCat("a frame of ", length, " bytes"));
    }
    if (frames_.size() - at - 5 < length) {
      break;
    }
    const absl::string_view payload = absl::string_view(frames_).substr(at + 5, length);
    if (flags & kTrailerFlag) {
      for (absl::string_view entry : absl::StrSplit(payload, "\r\n", absl::SkipEmpty())) {
        std::string name;
        absl::string_view value;
        if (!SplitHeader(entry, &name, &value)) {
          return Malformed("a trailer line");
        }
        if (name == "grpc-status" &&
            (!absl::SimpleAtoi(value, &trailer_grpc_status_) || trailer_grpc_status_ < 0)) {
          return Malformed("grpc-status trailer");
        }
        if (name == "grpc-message") {
          trailer_grpc_message_ = PercentDecode(value);
        }
      }
    } else if (flags & kCompressedFlag) {
      return Malformed("a compressed message (none was asked for)");
    } else {
      WebEvent message;
      message.kind = WebEvent::Kind::kMessage;
      message.http_status = http_status_;
      message.payload = std::string(payload);
      events->push_back(std::move(message));
    }
    at += 5 + length;
  }
  frames_.erase(0, at);
  return absl::OkStatus();
}

absl::Status WebResponseParser::End(std::vector<WebEvent>* events) {
  if (!frames_.empty()) {
    return Malformed(
        absl::StrCat("the body ended inside a frame (", frames_.size(), " bytes left)"));
  }
  WebEvent end;
  end.kind = WebEvent::Kind::kEnd;
  end.http_status = http_status_;
  end.trailers_only = header_grpc_status_ >= 0;
  end.grpc_status = end.trailers_only ? header_grpc_status_ : trailer_grpc_status_;
  end.grpc_message = end.trailers_only ? header_grpc_message_ : trailer_grpc_message_;
  end.keep_alive = keep_alive_;
  events->push_back(std::move(end));
  Reset();
  return absl::OkStatus();
}

void WebResponseParser::Reset() {
  state_ = State::kStatusLine;
  header_bytes_ = 0;
  http_status_ = 0;
  chunked_ = false;
  keep_alive_ = true;
  grpc_web_ = false;
  remaining_ = 0;
  header_grpc_status_ = -1;
  header_grpc_message_.clear();
  frames_.clear();
  trailer_grpc_status_ = -1;
  trailer_grpc_message_.clear();
}

}  // namespace crm::gateway_bench
