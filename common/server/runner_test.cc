#include "common/server/runner.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

class RunnerTest : public ::testing::Test {
 protected:
  void StartRunner(RunnerOptions options = {}) {
    options.service = "test";
    options.dependency_check_interval = absl::Milliseconds(20);
    options.drain = absl::Seconds(2);
    runner_ = std::make_unique<Runner>(options);
    runner_->AddDependency("database", [this] {
      return db_up_.load() ? absl::OkStatus() : absl::UnavailableError("database unavailable");
    });
    if (detail_ != nullptr) {
      runner_->AddHealthDetail("outbox", detail_);
    }
    ASSERT_TRUE(runner_->Start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = Health::NewStub(channel_);
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* response,
                     const std::string& request_id = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!request_id.empty()) {
      context.AddMetadata("x-request-id", request_id);
    }
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&context, request, response);
  }

  HealthCheckResponse::ServingStatus Status(const std::string& service = "") {
    HealthCheckResponse response;
    EXPECT_TRUE(Check(service, &response).ok());
    return response.status();
  }

  // Polls until the overall status is `want` or a few seconds pass.
  bool EventuallyStatus(HealthCheckResponse::ServingStatus want) {
    for (int i = 0; i < 200; ++i) {
      if (Status() == want) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  std::atomic<bool> db_up_{true};
  std::function<std::string()> detail_;
  std::unique_ptr<Runner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(RunnerTest, ServingWhenDependenciesAreUp) {
  StartRunner();
  EXPECT_EQ(Status(), HealthCheckResponse::SERVING);
  EXPECT_EQ(Status("grpc.health.v1.Health"), HealthCheckResponse::SERVING);
}

TEST_F(RunnerTest, UnknownServiceIsNotFound) {
  StartRunner();
  HealthCheckResponse response;
  EXPECT_EQ(Check("crm.nope.v1.NopeService", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RunnerTest, NotServingWhileDependencyIsDown) {
  StartRunner();
  ASSERT_EQ(Status(), HealthCheckResponse::SERVING);
  db_up_ = false;
  EXPECT_TRUE(EventuallyStatus(HealthCheckResponse::NOT_SERVING));
  db_up_ = true;
  EXPECT_TRUE(EventuallyStatus(HealthCheckResponse::SERVING));
}

// Check's trailing metadata tells an operator why: each dependency's state
// and the parts a service reports (its outbox relay).
TEST_F(RunnerTest, HealthDetailsSayWhatIsDownAndWhatTheServiceReports) {
  detail_ = [] { return std::string(R"({"pending":3,"quarantined":1})"); };
  db_up_ = false;
  StartRunner();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  ASSERT_TRUE(stub_->Check(&context, HealthCheckRequest(), &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  auto it = context.GetServerTrailingMetadata().find("crm-health-details");
  ASSERT_NE(it, context.GetServerTrailingMetadata().end());
  const nlohmann::json details =
      nlohmann::json::parse(std::string(it->second.data(), it->second.size()));
  EXPECT_THAT(details["dependencies"]["database"].get<std::string>(),
              ::testing::HasSubstr("UNAVAILABLE: database unavailable"));
  EXPECT_EQ(details["outbox"]["pending"], 3);
  EXPECT_EQ(details["outbox"]["quarantined"], 1);
}

TEST_F(RunnerTest, StartsNotServingWhenDependencyIsDown) {
  db_up_ = false;
  StartRunner();
  EXPECT_EQ(Status(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(RunnerTest, WatchStreamsChangesAndEndsOnShutdown) {
  StartRunner();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckRequest request;
  auto reader = stub_->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  db_up_ = false;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  db_up_ = true;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread stopper([this] { runner_->Stop(); });
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
}

TEST_F(RunnerTest, WatchOfUnknownServiceSaysServiceUnknown) {
  StartRunner();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest request;
  request.set_service("crm.nope.v1.NopeService");
  auto reader = stub_->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  context.TryCancel();
}

TEST_F(RunnerTest, LogsOneJsonLinePerRpcWithRequestId) {
  std::string logs;
  log::CaptureForTesting(&logs);
  StartRunner();
  HealthCheckResponse response;
  Check("crm.nope.v1.NopeService", &response, "req-42");
  runner_->Stop();
  log::CaptureForTesting(nullptr);
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"rpc\",\"method\":\"/grpc.health.v1.Health/Check\","
                              "\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(logs, HasSubstr("\"request_id\":\"req-42\""));
  EXPECT_THAT(logs, HasSubstr("\"latency_ms\":"));
  EXPECT_THAT(logs, HasSubstr("\"peer\":\"ipv4:127.0.0.1:"));
}

TEST_F(RunnerTest, RefusesOversizedMessages) {
  RunnerOptions options;
  options.max_message_bytes = 1024;
  StartRunner(options);
  HealthCheckResponse response;
  EXPECT_EQ(Check(std::string(4096, 'x'), &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Status(), HealthCheckResponse::SERVING);
}

TEST_F(RunnerTest, PortInUseFailsToStart) {
  StartRunner();
  RunnerOptions options;
  options.listen = absl::StrCat("127.0.0.1:", runner_->port());
  Runner second(options);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot listen"));
}

TEST_F(RunnerTest, StopIsIdempotent) {
  StartRunner();
  ASSERT_EQ(Status(), HealthCheckResponse::SERVING);
  std::string logs;
  log::CaptureForTesting(&logs);
  runner_->Stop();
  runner_->Stop();
  runner_.reset();  // the destructor stops too
  log::CaptureForTesting(nullptr);
  // One shutdown, logged once, and the port no longer answers.
  size_t stopped = 0;
  for (size_t at = logs.find("\"msg\":\"stopped\""); at != std::string::npos;
       at = logs.find("\"msg\":\"stopped\"", at + 1)) {
    ++stopped;
  }
  EXPECT_EQ(stopped, 1u);
  HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  EXPECT_FALSE(stub_->Check(&context, HealthCheckRequest(), &response).ok());
}

}  // namespace
}  // namespace crm::server
