#pragma once

// A request message passed through as the browser compressed it. gRPC-web
// carries gRPC's per-message compression unchanged: `grpc-encoding` names
// the algorithm for the call, and each frame's flag says whether that
// message is compressed. The gateway neither decompresses nor recompresses:
// it tells its gRPC call the algorithm (so the backend sees the same
// `grpc-encoding`) and hands over each message as a WireMessage, which gRPC
// sends with the flag it came with.
//
//   absl::StatusOr<grpc_compression_algorithm> encoding = ParseMessageEncoding(header);
//   absl::StatusOr<WireMessage> message = ToWireMessage(frame, *encoding);
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

#include <string>

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
