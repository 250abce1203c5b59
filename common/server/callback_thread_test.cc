#include "common/server/callback_thread.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/server/runner.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

std::string ThreadName() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// A loop lent a thread, which records where it runs and returns when
// released (at the latest when this goes, so a failed test never leaves it
// holding the thread gRPC would join).
struct Lent {
  Lent() { join = LendCallbackThread(Body()); }
  ~Lent() { Return(); }

  void Return() {
    if (!release.HasBeenNotified()) {
      release.Notify();
    }
    if (join) {
      std::exchange(join, nullptr)();
    }
  }

  absl::Notification started;
  absl::Notification release;
  std::string thread_name;
  std::thread::id thread_id;
  std::function<void()> join;

 private:
  std::function<void()> Body() {
    return [this] {
      thread_name = ThreadName();
      thread_id = std::this_thread::get_id();
      started.Notify();
      release.WaitForNotification();
    };
  }
};

// A server whose handlers run on gRPC's callback threads (the health
// service is a callback service), to show they are still served.
class CallbackThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunnerOptions options;
    options.service = "test";
    options.reflection = false;
    runner_ = std::make_unique<Runner>(options);
    ASSERT_TRUE(runner_->Start().ok());
    stub_ = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", runner_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // The loans are returned in each test, before the server goes.
    runner_.reset();
  }

  bool Served() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    return stub_->Check(&context, request, &response).ok();
  }

  std::unique_ptr<Runner> runner_;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
};

TEST_F(CallbackThreadTest, TheLoopRunsOnACallbackThreadUntilItReturns) {
  Lent loop;
  ASSERT_TRUE(loop.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // gRPC 1.51's name for the threads that drain its callback queue; if an
  // upgrade renames them, the premise of the loan needs checking again.
  EXPECT_EQ(loop.thread_name, "nexting_thread");
  EXPECT_NE(loop.thread_id, std::this_thread::get_id());

  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    std::exchange(loop.join, nullptr)();
    joined = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(joined.load()) << "join returned before the loop did";
  loop.release.Notify();
  joiner.join();
  EXPECT_TRUE(joined.load());
}

TEST_F(CallbackThreadTest, TheServerIsStillServedWhileTheThreadIsLent) {
  Lent loop;
  ASSERT_TRUE(loop.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Served()) << "call " << i;
  }
}

// gRPC keeps at least two callback threads; were a second one lent, none
// would be left to run the server's handlers and the calls would time out.
TEST_F(CallbackThreadTest, OnlyOneThreadIsLentAtATime) {
  {
    Lent first;
    Lent second;
    ASSERT_TRUE(first.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
    ASSERT_TRUE(second.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
    EXPECT_EQ(first.thread_name, "nexting_thread");
    EXPECT_NE(second.thread_name, "nexting_thread");
    EXPECT_NE(first.thread_id, second.thread_id);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(Served()) << "call " << i;
    }
  }
  // Returned, the thread can be lent again.
  Lent third;
  ASSERT_TRUE(third.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(third.thread_name, "nexting_thread");
}

// With no server or channel left but the loan's, returning it lets gRPC
// join its callback threads on the joining thread; nothing hangs.
TEST(CallbackThreadAloneTest, ReturnsWhenTheLoanHoldsGrpcsLastReference) {
  Lent loop;
  ASSERT_TRUE(loop.started.WaitForNotificationWithTimeout(absl::Seconds(5)));
  loop.Return();
}

}  // namespace
}  // namespace crm::server
