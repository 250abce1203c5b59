#pragma once

// A request message passed through as the browser compressed it. gRPC-web
// carries gRPC's per-message compression unchanged: `grpc-encoding` names
// the algorithm for the call, and each frame's flag says whether that
// message is compressed. The gateway does not recompress: it tells its gRPC
// call the algorithm (so the backend sees the same `grpc-encoding`) and hands
// over each message as a WireMessage, which gRPC sends with the flag it came
// with. It only inflates to count (CheckInflatedSize), so that a backend is
// never handed a message that inflates past the limit.
//
//   absl::StatusOr<grpc_compression_algorithm> encoding = ParseMessageEncoding(header);
//   absl::StatusOr<WireMessage> message = ToWireMessage(frame, *encoding);
//   absl::Status size = CheckInflatedSize(message->compression, message->bytes, limit);
//   // ClientContext::set_compression_algorithm(*encoding), then write *message
//   // on a grpc::TemplatedGenericStub<WireMessage, grpc::ByteBuffer> call.
//
// How it gets through gRPC 1.51 untouched: Serialize below makes the
// message a compressed raw byte buffer (grpc_raw_compressed_byte_buffer_create);
// for such a buffer the surface call (call.cc) adds GRPC_WRITE_INTERNAL_COMPRESS
// to the write's flags, the compression filter skips a message with that flag
// (or GRPC_WRITE_NO_COMPRESS), and chttp2 writes the frame's compressed flag
// from it. An uncompressed message goes with GRPC_WRITE_NO_COMPRESS, so the
// call's algorithm does not compress it either.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpc/byte_buffer.h"
#include "grpc/compression.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "services/gateway/grpc_web.h"

namespace crm::gateway {

// The message encodings gRPC C++ decodes, so the gateway passes them through
// (the value of grpc-accept-encoding).
inline constexpr absl::string_view kSupportedEncodings = "identity,deflate,gzip";

// A request's grpc-encoding: absent (empty) or "identity" is none; "deflate"
// and "gzip" (any case) are theirs. Any other is UNIMPLEMENTED, naming it and
// the supported ones (what a gRPC server answers to an encoding it lacks).
absl::StatusOr<grpc_compression_algorithm> ParseMessageEncoding(absl::string_view value);

// A request message as it is to reach the backend: its bytes as the browser
// sent them, compressed with `compression` (GRPC_COMPRESS_NONE: not).
struct WireMessage {
  std::string bytes;
  grpc_compression_algorithm compression = GRPC_COMPRESS_NONE;
};

// A request frame of a call whose grpc-encoding is `encoding`: compressed
// with it when the frame's compressed flag is set, else as is (the flag is
// per message). INTERNAL for a compressed frame in a call without an
// encoding (gRPC's PROTOCOL-HTTP2: the flag must then be 0).
absl::StatusOr<WireMessage> ToWireMessage(Frame frame, grpc_compression_algorithm encoding);

// Whether `bytes`, compressed with `algorithm`, inflate to at most `limit`
// bytes. gRPC 1.51 inflates a whole message before its receive limit
// applies (65 KB of gzip inflates to 64 MiB, 4 MiB to about 4 GiB); the
// gateway, which browsers reach, inflates each compressed message first into
// a small scratch buffer, only counting, and stops as soon as the count
// passes the limit. Nothing is kept: the message still goes on as it came.
//
// Accepts what gRPC's decompression does (src/core/lib/compression/
// message_compress.cc): "gzip" is the gzip format, "deflate" the zlib format
// (RFC 1950, not raw deflate), one stream with nothing after it; empty bytes
// are an empty message. RESOURCE_EXHAUSTED past the limit; INTERNAL for bytes
// that do not inflate (corrupt, cut short, trailing bytes), as gRPC answers a
// message it cannot decompress. GRPC_COMPRESS_NONE compares the size itself.
absl::Status CheckInflatedSize(grpc_compression_algorithm algorithm, absl::string_view bytes,
                               size_t limit);

}  // namespace crm::gateway

namespace grpc {

// A WireMessage becomes gRPC's byte buffer directly. This is the form of
// Serialize that hands over a grpc_byte_buffer (grpcpp/impl/serialization_traits.h):
// only a raw buffer can carry its compression, and grpc::ByteBuffer cannot
// be made from one outside gRPC.
template <>
class SerializationTraits<crm::gateway::WireMessage, void> {
 public:
  static Status Serialize(const crm::gateway::WireMessage& message, grpc_byte_buffer** buffer,
                          bool* own_buffer);
};

}  // namespace grpc
