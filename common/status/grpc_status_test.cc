#include "common/status/grpc_status.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

TEST(GrpcStatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, CanonicalCodesMapOneToOne) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status status(static_cast<absl::StatusCode>(code), "boom");
    grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_EQ(wire.error_message(), "boom");
    EXPECT_TRUE(wire.error_details().empty());
    EXPECT_EQ(FromGrpcStatus(wire), status);
  }
}

TEST(GrpcStatusTest, FieldViolationReadsBackWhatInvalidArgumentCarries) {
  const std::optional<FieldViolation> violation =
      FieldViolationOf(InvalidArgumentError("address.city", "is required"));
  ASSERT_TRUE(violation.has_value());
  EXPECT_EQ(violation->field, "address.city");
  EXPECT_EQ(violation->description, "is required");
  EXPECT_FALSE(FieldViolationOf(absl::InvalidArgumentError("address.city: is required")));
  EXPECT_FALSE(FieldViolationOf(absl::NotFoundError("x")));
}

TEST(GrpcStatusTest, InvalidArgumentNamesFieldAndCarriesBadRequest) {
  grpc::Status wire = ToGrpcStatus(InvalidArgumentError("user.email", "must be a valid email"));
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(wire.error_message(), "user.email: must be a valid email");

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(wire.error_details()));
  EXPECT_EQ(details.code(), 3);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "user.email");
  EXPECT_EQ(bad_request.field_violations(0).description(), "must be a valid email");
}

TEST(GrpcStatusTest, RetryDelayRoundTrips) {
  absl::Status status =
      WithRetryDelay(absl::ResourceExhaustedError("too many attempts"), absl::Milliseconds(2500));
  absl::Status back = FromGrpcStatus(ToGrpcStatus(status));
  EXPECT_EQ(back.code(), absl::StatusCode::kResourceExhausted);
  auto payload = back.GetPayload("type.googleapis.com/google.rpc.RetryInfo");
  ASSERT_TRUE(payload.has_value());
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(retry.ParseFromString(std::string(*payload)));
  EXPECT_EQ(retry.retry_delay().seconds(), 2);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

TEST(GrpcStatusTest, ResourceInfoRoundTrips) {
  absl::Status status = WithResourceInfo(absl::AlreadyExistsError("a lead has this email"),
                                         "crm.leads.v1.Lead", "leads/42", "same email");
  absl::Status back = FromGrpcStatus(ToGrpcStatus(status));
  EXPECT_EQ(back.code(), absl::StatusCode::kAlreadyExists);
  auto payload = back.GetPayload("type.googleapis.com/google.rpc.ResourceInfo");
  ASSERT_TRUE(payload.has_value());
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(info.ParseFromString(std::string(*payload)));
  EXPECT_EQ(info.resource_type(), "crm.leads.v1.Lead");
  EXPECT_EQ(info.resource_name(), "leads/42");
  EXPECT_EQ(info.description(), "same email");
}

TEST(GrpcStatusTest, RetryDelayOnOkIsIgnored) {
  EXPECT_TRUE(WithRetryDelay(absl::OkStatus(), absl::Seconds(1)).ok());
}

TEST(GrpcStatusTest, ForeignPayloadsAreNotSentToClients) {
  absl::Status status = absl::InternalError("internal error");
  status.SetPayload("internal/debug", absl::Cord("SELECT secret FROM users"));
  grpc::Status wire = ToGrpcStatus(status);
  EXPECT_TRUE(wire.error_details().empty());
  EXPECT_EQ(wire.error_message(), "internal error");
}

TEST(GrpcStatusTest, GarbageDetailsAreIgnored) {
  grpc::Status wire(grpc::StatusCode::UNAVAILABLE, "down", "\xff\xff not a proto");
  absl::Status status = FromGrpcStatus(wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "down");
}

}  // namespace
}  // namespace crm
