#pragma once

// Many NotificationService.WatchNotifications streams through the gateway,
// as a browser opens them: gRPC-web over HTTP/1.1, one TCP connection per
// stream (HTTP/1.1 carries one response at a time), all on one thread with
// one epoll loop. The request (EncodeWebRequest: the bearer token, after_id)
// is the same for every stream. A stream counts as established once the
// gateway's response headers arrive (200, not a trailers-only refusal): the
// gateway sends them when the notifications service sends its own, which it
// does once the watch is live.
//
// While WaitEstablished has not returned, a stream refused before its
// headers with RESOURCE_EXHAUSTED or UNAVAILABLE (the service busy, or the
// gateway's channel reconnecting after a restart) is opened again after a
// backoff, as a client would, and counted (busy_retries). Any other end, or
// any end afterwards, is final. At most `max_connecting` streams are being
// opened (connecting or waiting for headers) at once, so a burst of opens
// does not overflow the gateway's accept queue.
//
//   WebWatcherSet streams({.address = gateway, .request = watch}, on_notification);
//   streams.Open(2000);
//   if (absl::Status s = streams.WaitEstablished(absl::Seconds(60)); !s.ok()) ...
//   ...
//   streams.CloseAll();

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/notifications/v1/notification.pb.h"

namespace crm::gateway_bench {

struct WebWatchCounts {
  int opened = 0;        // streams asked for
  int established = 0;   // response headers received
  int ended = 0;         // ended for good, before or after their headers
  int busy_retries = 0;  // opens refused busy before their headers, made again
  int64_t heartbeats = 0;
  int64_t notifications = 0;
  std::map<std::string, int> end_codes;  // status name (or HTTP failure) → streams
  std::string first_end;                 // "UNAUTHENTICATED: ..." of the first that ended
};

class WebWatcherSet {
 public:
  struct Options {
    sockaddr_in address{};
    std::string request;  // the whole HTTP request of one stream
    int max_connecting = 128;
  };
  // Called on the set's thread for every notification, with the time it was
  // read (notify_bench::MonotonicNowNs) and the stream's index (0, 1, ...).
  using Handler =
      std::function<void(int stream, const notifications::v1::Notification&, int64_t received_ns)>;

  explicit WebWatcherSet(Options options, Handler handler = nullptr);
  // Closes every stream and stops the thread.
  ~WebWatcherSet();
  WebWatcherSet(const WebWatcherSet&) = delete;
  WebWatcherSet& operator=(const WebWatcherSet&) = delete;

  // Opens `count` more streams (in the background).
  void Open(int count) ABSL_LOCKS_EXCLUDED(mu_);

  // OK once every stream opened is established and none has ended;
  // UNAVAILABLE naming the first end as soon as one ends; DEADLINE_EXCEEDED
  // saying how many were established within `timeout`.
  absl::Status WaitEstablished(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // UNAVAILABLE if any stream has ended.
  absl::Status CheckOpen() const ABSL_LOCKS_EXCLUDED(mu_);

  WebWatchCounts Counts() const ABSL_LOCKS_EXCLUDED(mu_);

  // Closes every connection (the gateway then cancels the backend calls)
  // and waits until the thread has; the counts stay readable.
  void CloseAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Stream;

  void Loop();
  void Wake();
  // On the loop thread.
  void StartPending(int64_t now_ns);
  void Connect(Stream& s);
  void OnWritable(Stream& s);
  void OnReadable(Stream& s);
  void Established(Stream& s);
  void Ended(Stream& s, const std::string& code, const std::string& message, bool busy);
  void CloseSocket(Stream& s);
  void CloseEverything();

  const Options options_;
  const Handler handler_;
  int epoll_ = -1;
  int wake_fd_ = -1;

  // The loop thread's own.
  std::vector<std::unique_ptr<Stream>> streams_;
  std::deque<int> pending_;                       // streams waiting for their (next) open, in order
  std::vector<std::pair<int64_t, int>> retries_;  // (due, stream) of refused opens
  int connecting_ = 0;                            // streams connecting or waiting for their headers

  mutable absl::Mutex mu_;
  int to_open_ ABSL_GUARDED_BY(mu_) = 0;
  bool close_all_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool establishing_ ABSL_GUARDED_BY(mu_) = true;
  int settled_ ABSL_GUARDED_BY(mu_) = 0;  // established, or ended for good without headers
  WebWatchCounts counts_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace crm::gateway_bench
