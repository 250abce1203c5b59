#include "services/gateway/message_encoding.h"

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
