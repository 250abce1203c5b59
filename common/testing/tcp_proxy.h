#pragma once

// A fault-injecting TCP proxy for tests: listens on 127.0.0.1 on a free port
// and forwards every connection to a target, in a mode the test switches at
// run time. Puts a database (or any server) behind faults a refused
// connection cannot show: latency, a blackhole, resets.
//
//   auto proxy = TcpProxy::Start("127.0.0.1", cluster->port());
//   std::string dsn = "host=127.0.0.1 port=" + std::to_string((*proxy)->port()) + " ...";
//   (*proxy)->SetMode(TcpProxy::Mode::kDrop);  // the database goes silent
//
// Modes:
//  - kPass: bytes flow both ways as they arrive.
//  - kDelay: every chunk read is written `delay` later, each way.
//  - kDrop: a blackhole. Nothing more is forwarded in either direction, on
//    existing connections and on new ones, and nothing is closed: bytes are
//    read and thrown away, so the peers' kernels keep acknowledging and only
//    an application-level limit notices. A connection that was blackholed
//    stays so (its streams have lost bytes); after a switch back to kPass,
//    new connections forward again.
//  - kReset: existing connections are closed with RST (SO_LINGER 0) on both
//    sides, and new ones are accepted and reset at once.
//
// One thread of its own serves every connection (poll). Stop() (or the
// destructor) closes everything and joins it.

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::testing {

class TcpProxy {
 public:
  enum class Mode { kPass, kDelay, kDrop, kReset };

  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(const std::string& target_host,
                                                         int target_port);
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  ~TcpProxy();

  // The listening port on 127.0.0.1.
  int port() const { return port_; }

  // Switches mode; returns once the proxy's thread has applied it, so what
  // the test does next already meets the new mode. `delay` is for kDelay.
  void SetMode(Mode mode, absl::Duration delay = absl::ZeroDuration());

  // Connections accepted so far, and those open now.
  int accepted() const;
  int open() const;

  // Closes every connection and the listener, and joins the thread.
  // Idempotent.
  void Stop();

 private:
  struct State;
  TcpProxy(int listen_fd, int wake_fd, int port, std::string target_host, int target_port);
  void Run();

  const int listen_fd_;
  const int wake_fd_;
  const int port_;
  const std::string target_host_;
  const int target_port_;

  mutable absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kPass;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  int64_t requested_ ABSL_GUARDED_BY(mu_) = 0;  // mode changes asked for
  int64_t applied_ ABSL_GUARDED_BY(mu_) = 0;    // and applied by the thread
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int open_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex stop_mu_;  // serialises Stop()
  std::thread thread_;
};

}  // namespace crm::testing
