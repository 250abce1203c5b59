#pragma once

// For a method a service takes raw (the generated WithRawCallbackMethod_X):
// its request parsed, and an answer given as bytes already in wire format
// (a list page written straight from database rows, db::RowEncoder) or as a
// message to serialise (the same method's other paths).

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace crm::server {

// INVALID_ARGUMENT when `request` is not a valid message of `out`'s type.
absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::Message* out);

// A raw method handler's first step: parses `request` into `out` and returns
// null, or, when it does not parse, the reactor that has answered
// INVALID_ARGUMENT, for the handler to return:
//   if (grpc::ServerUnaryReactor* refused = ParseOrRefuse(context, *request, &parsed)) {
//     return refused;
//   }
grpc::ServerUnaryReactor* ParseOrRefuse(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer& request,
                                        google::protobuf::Message* out);

// `bytes` as the answer, without a copy.
void SetResponseBytes(std::string bytes, grpc::ByteBuffer* response);

void SetResponse(const google::protobuf::Message& message, grpc::ByteBuffer* response);

}  // namespace crm::server
