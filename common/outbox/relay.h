#pragma once

// The outbox relay (DESIGN.md §5): one thread per service that streams the
// service's undelivered outbox rows, oldest first, to
// crm.audit.v1.AuditService/RecordActivities over one long-lived stream, and
// marks them delivered only when audit has acknowledged them (stored, or
// already stored). So nothing is lost when audit or this process dies, and
// what was sent but not marked is sent again and acknowledged as a
// duplicate: delivery is at least once, storage exactly once.
//
//   Relay relay({.dsn = dsn, .audit_channel = channel,
//                .authorize = [&](grpc::ClientContext& c) { return creds->Attach(c); }});
//   relay.Start();
//   ...
//   relay.Stop();
//
// It wakes on the outbox's NOTIFY, so events leave within milliseconds, and
// sends up to `batch_size` rows per message under load. When audit or the
// database is unreachable it retries with capped exponential back-off. Only
// one relay per database is active (a session advisory lock), so replicas
// of a service do not race or reorder; the others stand by. Delivered rows
// are deleted by the service's janitor (outbox::PurgeDelivered).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/db/connect.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace crm::outbox {

struct RelayOptions {
  std::string dsn;  // the service's own database, holding `outbox`
  std::shared_ptr<grpc::Channel> audit_channel;
  // Adds the service account's credentials to the stream's context.
  std::function<absl::Status(grpc::ClientContext&)> authorize;

  int batch_size = 500;  // audit's limit per message
  // Bytes of events per message: well under audit's 4 MiB message limit,
  // whatever the events' sizes. An event past kMaxEventBytes is never sent
  // but quarantined (event_limits.h).
  size_t max_batch_bytes = 1 << 20;
  // A poll when no notification came, in case one was missed.
  absl::Duration idle_poll = absl::Seconds(5);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(30);
  // Streams are reopened this often (deadline-bounded, and a fresh token),
  // and a batch is only sent with at least `ack_timeout` of it left, so a
  // hung audit holds the relay for at most one stream lifetime.
  absl::Duration stream_lifetime = absl::Minutes(2);
  absl::Duration ack_timeout = absl::Seconds(30);
};

class Relay {
 public:
  explicit Relay(RelayOptions options);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay();  // Stop()

  void Start();
  // Cancels what is in flight and joins the thread; rows sent but not yet
  // acknowledged are sent again by the next relay. Idempotent.
  void Stop();

  // Rows marked delivered by this relay so far (stored or already stored).
  int64_t delivered() const { return delivered_.load(); }
  // Rows this relay quarantined: rejected by audit, or too large to send.
  // They stay in the outbox with their rejected_reason.
  int64_t quarantined() const { return quarantined_.load(); }

  // The relay's state for the service's health details, as a JSON object:
  // {"active":true,"pending":3,"quarantined":1,"delivered":120}; pending and
  // quarantined are counted in the outbox (all time, kept rows), refreshed
  // while the relay is idle.
  std::string HealthJson() const;

 private:
  using Stream = grpc::ClientReaderWriter<audit::v1::RecordActivitiesRequest,
                                          audit::v1::RecordActivitiesResponse>;

  void Run();
  // One pass: ensures the connection, the lock and the stream, then sends
  // one batch or waits for work. OK when there was nothing to do or a batch
  // was delivered.
  absl::Status Step();
  absl::Status EnsureDatabase();
  absl::Status EnsureStream();
  // Half-closes and finishes the stream, then drops it.
  void CloseStream();
  // Drops a stream already finished (Finish() may be called only once).
  void DropStream();
  // Ends a stream that failed, returning why.
  absl::Status StreamFailure();
  // Sends the rows (as many as the byte bound allows), waits for the acks
  // and marks them delivered; quarantines those too large to send.
  absl::Status Deliver(const pqxx::result& rows);
  // Marks `ids` delivered, and each of `rejected` delivered with its reason.
  absl::Status MarkDelivered(std::vector<std::string> ids,
                             const std::vector<std::pair<std::string, std::string>>& rejected,
                             int64_t stored);
  // Counts pending and quarantined rows (cheap: partial indexes).
  void RefreshCounts();
  absl::Status WaitForWork();
  // Drops the connection (and so the lock and LISTEN) after a database error.
  absl::Status DatabaseFailure(const std::exception& e);
  // Sleeps up to `d`; false when Stop() was called.
  bool Sleep(absl::Duration d);

  const RelayOptions options_;
  const std::unique_ptr<audit::v1::AuditService::Stub> stub_;
  std::thread thread_;
  absl::Notification stop_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> quarantined_{0};
  std::atomic<bool> active_{false};
  std::atomic<int64_t> pending_rows_{-1};  // -1: not counted yet
  std::atomic<int64_t> quarantined_rows_{-1};

  class Wakeup;

  // Only the relay thread touches these.
  std::unique_ptr<db::BoundedConnection> db_;
  std::unique_ptr<Wakeup> receiver_;  // reset before db_
  bool leader_ = false;
  std::unique_ptr<Stream> stream_;
  absl::Time stream_deadline_ = absl::InfinitePast();
  absl::Time next_count_ = absl::InfinitePast();

  // A database gone silent never answers, and the relay's statements block
  // in libpq: each runs with the connection's socket armed on this
  // watchdog, cut at the statement's bound or at once by Stop().
  class Guard;
  db::SocketWatchdog watchdog_;
  std::atomic<bool> stopping_{false};  // for ConnectPqxxBefore

  // The open stream's context, so Stop() can cancel a blocked read, and the
  // armed statement, so Stop() can cut it.
  absl::Mutex mu_;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  int64_t armed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crm::outbox
