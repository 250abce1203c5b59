#include "common/server/delayed_finish.h"

#include <utility>

#include "grpcpp/alarm.h"

namespace crm::server {

void FinishAfter(grpc::ServerUnaryReactor* reactor, grpc::Status status, absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) {
    reactor->Finish(status);
    return;
  }
  // The alarm keeps its own reference while its callback runs, so the
  // callback may delete it.
  auto* alarm = new grpc::Alarm();
  alarm->Set(absl::ToChronoTime(absl::Now() + delay),
             [alarm, reactor, status = std::move(status)](bool) {
               reactor->Finish(status);
               delete alarm;
             });
}

}  // namespace crm::server
