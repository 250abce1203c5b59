#pragma once

// Many WatchNotifications streams held open at once on gRPC's callback API
// (one reactor per stream, no thread per stream), each as the user whose
// access token it carries, all with after_id = 0. A stream counts as
// established once its response headers arrive: the service sends them when
// the watch is live. Keep-alive messages (heartbeat_time only) are counted
// and otherwise ignored; notifications go to the set's handler.
//
// Until WaitEstablished returns, a stream the service turns away before its
// headers with RESOURCE_EXHAUSTED or UNAVAILABLE (its executor full during a
// burst of opens: "server busy", retry after 200 ms) is opened again after a
// backoff, as a client would, and counted (`busy_retries`). Any other end,
// or such an end once the streams are established, is final.
//
//   WatcherSet idle;  // counts only
//   for (...) idle.Open(*stub, token);
//   if (absl::Status s = idle.WaitEstablished(absl::Seconds(30)); !s.ok()) ...
//   ...
//   idle.CancelAll(absl::Seconds(5));

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "grpcpp/support/status.h"

namespace crm::notify_bench {

struct WatchCounts {
  int opened = 0;        // streams asked for (Open)
  int established = 0;   // response headers received
  int ended = 0;         // finished for good (any status), before or after their headers
  int busy_retries = 0;  // opens turned away busy and made again
  int64_t heartbeats = 0;
  int64_t notifications = 0;
  std::map<std::string, int> end_codes;  // status name → streams that ended with it
  std::string first_end;                 // "UNIMPLEMENTED: ..." of the first that ended
};

class WatcherSet {
 public:
  // Called on a gRPC thread for every notification, with the time it was
  // read (MonotonicNowNs) and the index Open returned for its stream.
  // Open, WaitEstablished and CancelAll are called from one thread.
  using Handler =
      std::function<void(int stream, const notifications::v1::Notification&, int64_t received_ns)>;

  explicit WatcherSet(Handler handler = nullptr);
  // Cancels whatever is still open and waits for it.
  ~WatcherSet();

  WatcherSet(const WatcherSet&) = delete;
  WatcherSet& operator=(const WatcherSet&) = delete;

  // Opens a stream with `authorization: Bearer <token>`; returns its index.
  int Open(notifications::v1::NotificationService::Stub& stub, const std::string& token);

  // OK once every stream opened is established and none has ended;
  // UNAVAILABLE naming the first stream's end status (say UNIMPLEMENTED) as
  // soon as one ends; DEADLINE_EXCEEDED saying how many were established
  // within `timeout`.
  absl::Status WaitEstablished(absl::Duration timeout);

  // UNAVAILABLE as above if any stream has ended. (A refusal may come as
  // empty response headers followed at once by the status: check again a
  // moment after WaitEstablished.)
  absl::Status CheckOpen() const;

  WatchCounts Counts() const;

  // Cancels every stream and waits (up to `timeout`) until all have ended;
  // the counts stay readable.
  void CancelAll(absl::Duration timeout);

 private:
  class Watcher;
  struct Slot {
    notifications::v1::NotificationService::Stub* stub = nullptr;
    std::string token;
    int attempts = 0;
  };
  struct Retry {
    int slot = 0;
    absl::Time due;
  };

  // Starts an attempt of stream `slot`.
  void Start(int slot);
  void OnHeaders(bool ok);
  void OnMessage(int slot, const notifications::v1::WatchNotificationsResponse& message,
                 int64_t received_ns);
  void OnEnded(int slot, bool had_headers, const grpc::Status& status);

  const Handler handler_;
  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  // Every attempt, kept until CancelAll (a reactor must outlive its OnDone).
  std::vector<std::unique_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  int finished_ ABSL_GUARDED_BY(mu_) = 0;  // attempts whose OnDone ran
  WatchCounts counts_ ABSL_GUARDED_BY(mu_);
  // Streams that got their headers or ended for good without them.
  int settled_ ABSL_GUARDED_BY(mu_) = 0;
  bool establishing_ ABSL_GUARDED_BY(mu_) = true;  // until WaitEstablished returns
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Retry> retries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::notify_bench
