#pragma once

// The one place where absl::Status (used below the RPC layer) and grpc::Status
// (on the wire) meet. Error details travel as google.rpc.Status in the
// `grpc-status-details-bin` trailer, so clients in any language can decode
// BadRequest field violations and RetryInfo:
//
//   return crm::InvalidArgumentError("lead.email", "must be a valid email address");
//   ...
//   reactor->Finish(crm::ToGrpcStatus(status));

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace crm {

// INVALID_ARGUMENT whose message names `field` and which carries a
// google.rpc.BadRequest detail with one field violation.
absl::Status InvalidArgumentError(absl::string_view field, absl::string_view description);

// The field and description an InvalidArgumentError carries (its
// BadRequest's first violation); nullopt for any other status. For batch
// APIs that report each failed row's field on its own.
struct FieldViolation {
  std::string field;
  std::string description;
};
std::optional<FieldViolation> FieldViolationOf(const absl::Status& status);

// Returns `status` with a google.rpc.ResourceInfo detail naming the resource
// it concerns (e.g. the existing lead an ALREADY_EXISTS refers to).
absl::Status WithResourceInfo(absl::Status status, absl::string_view resource_type,
                              absl::string_view resource_name, absl::string_view description);

// Returns `status` with a google.rpc.RetryInfo detail telling the client how
// long to wait (for RESOURCE_EXHAUSTED and UNAVAILABLE).
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// Maps to the wire. Payloads attached to `status` whose type URL names a
// google.rpc message become entries of google.rpc.Status.details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Maps a status received from another service back, details as payloads.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace crm
