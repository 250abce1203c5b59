#include "common/status/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace crm {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

std::string TypeUrl(const google::protobuf::Message& message) {
  return absl::StrCat(kTypeUrlPrefix, message.GetDescriptor()->full_name());
}

}  // namespace

absl::Status InvalidArgumentError(absl::string_view field, absl::string_view description) {
  absl::Status status(absl::StatusCode::kInvalidArgument, absl::StrCat(field, ": ", description));
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation = bad_request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(description));
  status.SetPayload(TypeUrl(bad_request), absl::Cord(bad_request.SerializeAsString()));
  return status;
}

std::optional<FieldViolation> FieldViolationOf(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  const absl::optional<absl::Cord> payload =
      status.GetPayload(absl::StrCat(kTypeUrlPrefix, bad_request.GetDescriptor()->full_name()));
  if (!payload.has_value() || !bad_request.ParseFromString(std::string(*payload)) ||
      bad_request.field_violations_size() == 0) {
    return std::nullopt;
  }
  return FieldViolation{.field = bad_request.field_violations(0).field(),
                        .description = bad_request.field_violations(0).description()};
}

absl::Status WithResourceInfo(absl::Status status, absl::string_view resource_type,
                              absl::string_view resource_name, absl::string_view description) {
  if (status.ok()) {
    return status;
  }
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(resource_type));
  info.set_resource_name(std::string(resource_name));
  info.set_description(std::string(description));
  status.SetPayload(TypeUrl(info), absl::Cord(info.SerializeAsString()));
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) {
    return status;
  }
  google::rpc::RetryInfo retry;
  const int64_t millis = absl::ToInt64Milliseconds(delay);
  retry.mutable_retry_delay()->set_seconds(millis / 1000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
  status.SetPayload(TypeUrl(retry), absl::Cord(retry.SerializeAsString()));
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  google::rpc::Status details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    if (!absl::StartsWith(type_url, kTypeUrlPrefix)) {
      return;
    }
    google::protobuf::Any* any = details.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  if (details.details_size() == 0) {
    return grpc::Status(code, message);
  }
  details.set_code(static_cast<int32_t>(code));
  details.set_message(message);
  return grpc::Status(code, message, details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& any : details.details()) {
      result.SetPayload(any.type_url(), absl::Cord(any.value()));
    }
  }
  return result;
}

}  // namespace crm
