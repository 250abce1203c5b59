#include "services/gateway/message_encoding.h"

// zlib's next_in as a pointer to const: the input is only read.
#define ZLIB_CONST
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "grpc/slice.h"

namespace crm::gateway {

absl::StatusOr<grpc_compression_algorithm> ParseMessageEncoding(absl::string_view value) {
  const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
  if (name.empty() || name == "identity") {
    return GRPC_COMPRESS_NONE;
  }
  if (name == "deflate") {
    return GRPC_COMPRESS_DEFLATE;
  }
  if (name == "gzip") {
    return GRPC_COMPRESS_GZIP;
  }
  // Named back (cut short: it is the client's text), with the ones that work.
  return absl::UnimplementedError(
      absl::StrCat("grpc-encoding \"", absl::CHexEscape(value.substr(0, 64)),
                   "\" is not supported; supported: ", kSupportedEncodings));
}

absl::StatusOr<WireMessage> ToWireMessage(Frame frame, grpc_compression_algorithm encoding) {
  if ((frame.flags & kCompressedFlag) == 0) {
    return WireMessage{.bytes = std::move(frame.payload), .compression = GRPC_COMPRESS_NONE};
  }
  if (encoding == GRPC_COMPRESS_NONE) {
    return absl::InternalError(
        "a compressed request message needs a grpc-encoding naming its algorithm; supported: "
        "deflate, gzip");
  }
  return WireMessage{.bytes = std::move(frame.payload), .compression = encoding};
}

namespace {

// A zlib inflate stream, ended however the check returns.
class InflateStream {
 public:
  explicit InflateStream(int window_bits) : init_result_(inflateInit2(&stream_, window_bits)) {}
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;
  ~InflateStream() {
    if (init_result_ == Z_OK) {
      inflateEnd(&stream_);
    }
  }

  // Z_OK, or why the stream did not start.
  int init_result() const { return init_result_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
  int init_result_;
};

}  // namespace

absl::Status CheckInflatedSize(grpc_compression_algorithm algorithm, absl::string_view bytes,
                               size_t limit) {
  if (algorithm == GRPC_COMPRESS_NONE) {
    if (bytes.size() > limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("request message of ", bytes.size(), " bytes exceeds the limit of ", limit));
    }
    return absl::OkStatus();
  }
  if (algorithm != GRPC_COMPRESS_GZIP && algorithm != GRPC_COMPRESS_DEFLATE) {
    return absl::InternalError(
        absl::StrCat("no way to inflate a message compressed with algorithm ", algorithm));
  }
  const absl::string_view name = algorithm == GRPC_COMPRESS_GZIP ? "gzip" : "deflate";
  const auto does_not_decompress = [name](absl::string_view why) {
    return absl::InternalError(
        absl::StrCat("the ", name, " request message does not decompress: ", why));
  };
  // gRPC takes no bytes as an empty message rather than a stream cut short.
  if (bytes.empty()) {
    return absl::OkStatus();
  }
  // Window bits as gRPC's own: 15 is the zlib format, +16 the gzip one
  // (neither is raw deflate, and neither takes the other's header).
  InflateStream inflater(algorithm == GRPC_COMPRESS_GZIP ? 15 + 16 : 15);
  if (inflater.init_result() != Z_OK) {
    return absl::InternalError(
        absl::StrCat("zlib's inflate does not start: ", zError(inflater.init_result())));
  }
  z_stream& stream = *inflater.get();
  // The inflated bytes are only counted, so a fixed buffer takes them all in
  // turn and memory stays this small whatever the message inflates to.
  char scratch[16 << 10];
  size_t inflated = 0;
  for (;;) {
    if (stream.avail_in == 0 && !bytes.empty()) {
      // avail_in is 32 bits wide.
      const size_t chunk = std::min<size_t>(bytes.size(), std::numeric_limits<uInt>::max());
      stream.next_in = reinterpret_cast<const Bytef*>(bytes.data());
      stream.avail_in = static_cast<uInt>(chunk);
      bytes.remove_prefix(chunk);
    }
    stream.next_out = reinterpret_cast<Bytef*>(scratch);
    stream.avail_out = sizeof(scratch);
    const int result = inflate(&stream, Z_NO_FLUSH);
    inflated += sizeof(scratch) - stream.avail_out;
    if (inflated > limit) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the ", name, " request message, inflated, exceeds the limit of ", limit, " bytes"));
    }
    switch (result) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        // gRPC refuses a message whose input is not all consumed.
        if (stream.avail_in > 0 || !bytes.empty()) {
          return does_not_decompress("bytes follow the end of its compressed stream");
        }
        return absl::OkStatus();
      case Z_BUF_ERROR:
        // With room to write, no progress means the input ran out first.
        return does_not_decompress("the compressed stream ends early");
      case Z_NEED_DICT:
        return does_not_decompress("it needs a preset dictionary");
      default:
        return does_not_decompress(stream.msg != nullptr ? stream.msg : zError(result));
    }
  }
}

}  // namespace crm::gateway

namespace grpc {

Status SerializationTraits<crm::gateway::WireMessage, void>::Serialize(
    const crm::gateway::WireMessage& message, grpc_byte_buffer** buffer, bool* own_buffer) {
  grpc_slice slice = grpc_slice_from_copied_buffer(message.bytes.data(), message.bytes.size());
  if (*buffer != nullptr) {
    grpc_byte_buffer_destroy(*buffer);  // the call's previous message, if it kept one
  }
  // The buffer takes its own reference to the slice.
  *buffer = grpc_raw_compressed_byte_buffer_create(&slice, 1, message.compression);
  grpc_slice_unref(slice);
  *own_buffer = true;
  return Status::OK;
}

}  // namespace grpc
