#include "common/server/callback_thread.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace crm::server {
namespace {

std::atomic<bool> g_lent{false};

// What the loan's call needs until gRPC is done with it.
struct Loan {
  grpc::ClientContext context;
  grpc::Slice empty;
  grpc::ByteBuffer request{&empty, 1};
  grpc::ByteBuffer response;
  absl::Notification returned;
};

}  // namespace

std::function<void()> LendCallbackThread(std::function<void()> loop) {
  if (g_lent.exchange(true)) {
    auto thread = std::make_shared<std::thread>(std::move(loop));
    return [thread] { thread->join(); };
  }
  // A callback-API call's completion runs on a callback thread, and one that
  // fails at once costs nothing: its deadline has passed before it starts,
  // so gRPC neither resolves nor connects (the target is never used).
  auto channel = grpc::CreateChannel("unix:/nonexistent", grpc::InsecureChannelCredentials());
  auto loan = std::make_shared<Loan>();
  loan->context.set_deadline(std::chrono::system_clock::now());
  Loan* lent = loan.get();
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&lent->context, "/crm.CallbackThread/Lend", grpc::StubOptions(), &lent->request,
                 &lent->response, [lent, loop = std::move(loop)](const grpc::Status&) {
                   loop();
                   lent->returned.Notify();  // the last touch: the joiner frees it
                 });
  // The loan and the channel (which its context holds too) go on the joining
  // thread: if the channel holds the process's last reference to gRPC's
  // callback threads, gRPC joins them as it goes, which the lent thread
  // itself could not do.
  return [loan = std::move(loan), channel = std::move(channel)]() mutable {
    loan->returned.WaitForNotification();
    loan.reset();
    channel.reset();
    g_lent.store(false);
  };
}

}  // namespace crm::server
