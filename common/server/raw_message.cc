#include "common/server/raw_message.h"

#include <grpcpp/support/slice.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace crm::server {

absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!request.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("the request could not be read");
  }
  std::string bytes;
  bytes.reserve(request.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!out->ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not a valid ", out->GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ParseOrRefuse(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer& request,
                                        google::protobuf::Message* out) {
  absl::Status parsed = ParseRequest(request, out);
  if (parsed.ok()) {
    return nullptr;
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(parsed));
  return reactor;
}

void SetResponseBytes(std::string bytes, grpc::ByteBuffer* response) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  *response = grpc::ByteBuffer(&slice, 1);
}

void SetResponse(const google::protobuf::Message& message, grpc::ByteBuffer* response) {
  SetResponseBytes(message.SerializeAsString(), response);
}

}  // namespace crm::server
