#pragma once

// Finds a gRPC method by name among the protos linked into crm-load (every
// package of ours plus grpc.health.v1), in protobuf's generated pool.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace crm::load {

// `name` is "package.Service/Method", with or without a leading slash.
// NOT_FOUND names the unknown service or method (listing the service's
// methods); INVALID_ARGUMENT for a malformed name or a streaming method.
absl::StatusOr<const google::protobuf::MethodDescriptor*> FindUnaryMethod(absl::string_view name);

// "/package.Service/Method", the HTTP/2 path gRPC calls it by.
std::string MethodPath(const google::protobuf::MethodDescriptor& method);

}  // namespace crm::load
