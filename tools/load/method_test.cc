#include "tools/load/method.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::HasSubstr;

// One method of every package linked in: none may be dropped by the linker.
TEST(FindUnaryMethodTest, EveryPackageIsLinked) {
  for (const char* name :
       {"crm.auth.v1.UserService/GetUser", "crm.auth.v1.AuthService/Login",
        "crm.leads.v1.LeadService/GetLead", "crm.properties.v1.PropertyService/GetProperty",
        "crm.notifications.v1.NotificationService/ListNotifications",
        "crm.audit.v1.AuditService/ListActivities", "grpc.health.v1.Health/Check"}) {
    absl::StatusOr<const google::protobuf::MethodDescriptor*> method = FindUnaryMethod(name);
    ASSERT_TRUE(method.ok()) << name << ": " << method.status();
    EXPECT_EQ(MethodPath(**method), std::string("/") + name);
  }
}

TEST(FindUnaryMethodTest, LeadingSlash) {
  auto method = FindUnaryMethod("/crm.auth.v1.UserService/GetUser");
  ASSERT_TRUE(method.ok()) << method.status();
  EXPECT_EQ((*method)->input_type()->full_name(), "crm.auth.v1.GetUserRequest");
}

TEST(FindUnaryMethodTest, UnknownServiceOrMethod) {
  auto service = FindUnaryMethod("crm.auth.v1.NoService/GetUser");
  EXPECT_EQ(service.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(service.status().message(), HasSubstr("crm.auth.v1.NoService"));
  auto method = FindUnaryMethod("crm.auth.v1.UserService/GetUserz");
  EXPECT_EQ(method.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(method.status().message(), HasSubstr("GetUserz"));
  EXPECT_THAT(method.status().message(), HasSubstr("GetUser,"));
}

TEST(FindUnaryMethodTest, StreamingIsRefused) {
  for (const char* name :
       {"crm.audit.v1.AuditService/WatchActivities", "crm.audit.v1.AuditService/RecordActivities",
        "crm.properties.v1.PropertyService/ImportProperties", "grpc.health.v1.Health/Watch"}) {
    auto method = FindUnaryMethod(name);
    EXPECT_EQ(method.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(method.status().message(), HasSubstr("streaming")) << name;
  }
}

TEST(FindUnaryMethodTest, Malformed) {
  for (const char* name : {"", "GetUser", "crm.auth.v1.UserService/", "/GetUser"}) {
    EXPECT_EQ(FindUnaryMethod(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
}

}  // namespace
}  // namespace crm::load
