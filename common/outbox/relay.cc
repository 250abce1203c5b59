#include "common/outbox/relay.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/pool.h"
#include "common/db/sql_array.h"
#include "common/log/log.h"
#include "common/outbox/event_limits.h"
#include "common/outbox/outbox.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"

namespace crm::outbox {
namespace {

// One relay per database: the holder of this session lock delivers.
constexpr int64_t kRelayLockKey = 0x63726d5f72656c;  // "crm_rel"

const std::string& SelectUndelivered() {
  static const std::string* const sql = new std::string(
      absl::StrCat("SELECT id, event_id::text, ", timestamp::MicrosColumn("occurred_at"),
                   ", service, actor_user_id, action, entity_type, entity_id, details::text "
                   "FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1"));
  return *sql;
}

void ToEvent(const pqxx::row& row, audit::v1::ActivityEvent* event) {
  event->set_event_id(row["event_id"].as<std::string>());
  timestamp::ToProto(timestamp::FromMicros(row["occurred_at"].as<int64_t>()),
                     event->mutable_occurred_at());
  event->set_service(row["service"].as<std::string>());
  event->set_user_id(row["actor_user_id"].as<int64_t>());
  event->set_action(row["action"].as<std::string>());
  event->set_entity_type(row["entity_type"].as<std::string>());
  event->set_entity_id(row["entity_id"].as<int64_t>());
  event->set_details_json(row["details"].as<std::string>());
}

// The relay's statements (each at most the session's statement_timeout)
// plus a margin for the server to answer a timeout itself.
constexpr absl::Duration kStatementTimeout = absl::Seconds(30);
const absl::Duration kStatementBound = kStatementTimeout + absl::Seconds(2);
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);

}  // namespace

// Arms the connection's socket for one statement (or a few quick ones).
class Relay::Guard {
 public:
  explicit Guard(Relay* relay) : relay_(relay) {
    const int64_t id = relay_->watchdog_.Arm(relay_->db_->sock(), absl::Now() + kStatementBound);
    absl::MutexLock lock(&relay_->mu_);
    relay_->armed_ = id;
    if (relay_->stop_.HasBeenNotified()) {
      relay_->watchdog_.CutNow(id);  // Stop() came before the arming
    }
  }
  ~Guard() {
    int64_t id = 0;
    {
      absl::MutexLock lock(&relay_->mu_);
      std::swap(id, relay_->armed_);
    }
    relay_->watchdog_.Disarm(id);
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  Relay* const relay_;
};

// Sets a flag when the outbox's NOTIFY arrives (constructing it LISTENs).
class Relay::Wakeup final : public pqxx::notification_receiver {
 public:
  explicit Wakeup(pqxx::connection_base& conn) : notification_receiver(conn, kNotifyChannel) {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { woken = true; }
  bool woken = false;
};

Relay::Relay(RelayOptions options)
    : options_(std::move(options)),
      stub_(audit::v1::AuditService::NewStub(options_.audit_channel)) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Relay::Stop() {
  stopping_ = true;
  if (!stop_.HasBeenNotified()) {
    stop_.Notify();
  }
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) {
      context_->TryCancel();
    }
    if (armed_ != 0) {
      watchdog_.CutNow(armed_);  // a statement waiting for a silent database
    }
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

absl::Status Relay::DatabaseFailure(const std::exception& e) {
  // Start over on a new connection: this one may be broken, and with it the
  // advisory lock and the LISTEN.
  receiver_.reset();
  db_.reset();
  leader_ = false;
  active_ = false;
  return absl::UnavailableError(absl::StrCat("outbox database: ", e.what()));
}

bool Relay::Sleep(absl::Duration d) { return !stop_.WaitForNotificationWithTimeout(d); }

void Relay::Run() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.min_backoff;
  int failures = 0;
  while (!stop_.HasBeenNotified()) {
    absl::Status status = Step();
    if (status.ok()) {
      if (failures > 0) {
        log::Info("outbox relay recovered").Int("failed_attempts", failures);
      }
      failures = 0;
      backoff = options_.min_backoff;
      continue;
    }
    if (stop_.HasBeenNotified()) {
      break;
    }
    ++failures;
    // The first few are routine (the peer is starting, or restarting).
    (failures <= 3 ? log::Info("outbox relay failed; retrying")
                   : log::Warning("outbox relay failed; retrying"))
        .Str("error", status.ToString())
        .Int("attempt", failures)
        .Num("retry_in_seconds", absl::ToDoubleSeconds(backoff));
    CloseStream();
    // Full jitter keeps many services from reconnecting in step after an
    // audit restart.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    if (!Sleep(backoff * jitter(rng))) {
      break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  CloseStream();
  receiver_.reset();
  db_.reset();
}

absl::Status Relay::Step() {
  if (absl::Status s = EnsureDatabase(); !s.ok()) {
    return s;
  }
  if (!leader_) {
    Sleep(options_.idle_poll);  // another replica relays; take over if it goes
    return absl::OkStatus();
  }
  pqxx::result rows;
  try {
    Guard guard(this);
    pqxx::nontransaction tx(*db_);
    rows = tx.exec_params(SelectUndelivered(), options_.batch_size);
  } catch (const std::exception& e) {
    return DatabaseFailure(e);
  }
  if (rows.empty()) {
    return WaitForWork();
  }
  if (absl::Status s = EnsureStream(); !s.ok()) {
    return s;
  }
  return Deliver(rows);
}

absl::Status Relay::EnsureDatabase() {
  try {
    if (db_ == nullptr) {
      db_ = db::ConnectPqxxBefore(db::WithConnectionDefaults(options_.dsn, kConnectTimeout),
                                  absl::Now() + kConnectTimeout, &stopping_);
      Guard guard(this);
      pqxx::nontransaction setup(*db_);
      setup.exec(
          absl::StrCat("SET statement_timeout = ", absl::ToInt64Milliseconds(kStatementTimeout)));
      setup.commit();
      receiver_ = std::make_unique<Wakeup>(*db_);
      leader_ = false;
    }
    if (!leader_) {
      Guard guard(this);
      pqxx::nontransaction tx(*db_);
      leader_ = tx.exec_params1("SELECT pg_try_advisory_lock($1)", kRelayLockKey)[0].as<bool>();
      active_ = leader_;
      if (leader_) {
        log::Info("outbox relay active");
      }
    }
  } catch (const std::exception& e) {
    return DatabaseFailure(e);
  }
  return absl::OkStatus();
}

absl::Status Relay::WaitForWork() {
  // NOTIFY wakes us at once; the poll covers a notification lost with a
  // broken connection. Short slices keep Stop() prompt.
  RefreshCounts();
  const absl::Time poll = absl::Now() + options_.idle_poll;
  receiver_->woken = false;
  try {
    while (!receiver_->woken && !stop_.HasBeenNotified() && absl::Now() < poll) {
      db_->await_notification(0, 200000);
    }
  } catch (const std::exception& e) {
    return DatabaseFailure(e);
  }
  return absl::OkStatus();
}

void Relay::RefreshCounts() {
  if (absl::Now() < next_count_) {
    return;
  }
  next_count_ = absl::Now() + std::min(options_.idle_poll, absl::Seconds(5));
  try {
    Guard guard(this);
    pqxx::nontransaction tx(*db_);
    const pqxx::row counts = tx.exec1(
        "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL), "
        "(SELECT count(*) FROM outbox WHERE rejected_reason IS NOT NULL)");
    pending_rows_ = counts[0].as<int64_t>();
    quarantined_rows_ = counts[1].as<int64_t>();
  } catch (const std::exception& e) {
    // Only a health detail; the next statement finds a broken connection.
    log::Warning("outbox counts failed").Str("error", e.what());
  }
}

std::string Relay::HealthJson() const {
  return absl::StrCat(R"({"active":)", active_.load() ? "true" : "false", R"(,"pending":)",
                      pending_rows_.load(), R"(,"quarantined":)", quarantined_rows_.load(),
                      R"(,"delivered":)", delivered_.load(), "}");
}

absl::Status Relay::EnsureStream() {
  if (stream_ != nullptr && absl::Now() + options_.ack_timeout < stream_deadline_) {
    return absl::OkStatus();
  }
  CloseStream();
  auto context = std::make_unique<grpc::ClientContext>();
  stream_deadline_ = absl::Now() + options_.stream_lifetime;
  context->set_deadline(absl::ToChronoTime(stream_deadline_));
  if (absl::Status s = options_.authorize(*context); !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  if (stop_.HasBeenNotified()) {
    return absl::CancelledError("relay stopping");
  }
  context_ = std::move(context);
  stream_ = stub_->RecordActivities(context_.get());
  return absl::OkStatus();
}

absl::Status Relay::StreamFailure() {
  const grpc::Status status = stream_->Finish();
  DropStream();
  if (status.ok()) {
    return absl::UnavailableError("audit closed the stream");
  }
  return FromGrpcStatus(status);
}

void Relay::CloseStream() {
  if (stream_ != nullptr) {
    stream_->WritesDone();
    stream_->Finish();
  }
  DropStream();
}

void Relay::DropStream() {
  stream_.reset();
  absl::MutexLock lock(&mu_);
  context_.reset();
}

absl::Status Relay::Deliver(const pqxx::result& rows) {
  // Up to the byte bound, in order; an event past the per-event limit is
  // quarantined here (audit would refuse it, and resending cannot help) so
  // the events after it flow.
  audit::v1::RecordActivitiesRequest request;
  std::vector<std::string> ids;                                 // outbox row ids of the events sent
  std::vector<std::pair<std::string, std::string>> quarantine;  // row id, reason
  size_t bytes = 0;
  for (const pqxx::row& row : rows) {
    audit::v1::ActivityEvent event;
    ToEvent(row, &event);
    const size_t size = event.ByteSizeLong();
    if (size > kMaxEventBytes || event.details_json().size() > kMaxDetailsBytes) {
      quarantine.emplace_back(
          row[0].as<std::string>(),
          absl::StrCat("not sent: ", size, " bytes, larger than an event may be (details at most ",
                       kMaxDetailsBytes, " bytes)"));
      log::Error("outbox event too large; quarantined")
          .Str("event_id", event.event_id())
          .Str("action", event.action())
          .Int("bytes", static_cast<int64_t>(size));
      continue;
    }
    if (!ids.empty() && bytes + size + 8 > options_.max_batch_bytes) {
      break;  // the next message takes it
    }
    bytes += size + 8;
    *request.add_events() = std::move(event);
    ids.push_back(row[0].as<std::string>());
  }
  if (!quarantine.empty() && ids.empty()) {
    return MarkDelivered({}, quarantine, 0);
  }
  audit::v1::RecordActivitiesResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) {
    return StreamFailure();
  }
  if (response.acks_size() != request.events_size()) {
    CloseStream();
    return absl::InternalError(absl::StrCat("audit answered ", response.acks_size(), " acks for ",
                                            request.events_size(), " events"));
  }
  std::vector<std::pair<std::string, std::string>> rejected = quarantine;
  int64_t stored = 0;
  for (int i = 0; i < response.acks_size(); ++i) {
    const audit::v1::ActivityAck& ack = response.acks(i);
    // An ack for another event than the one sent in its place marks
    // nothing: the batch is sent again (duplicates are acked as such).
    if (ack.event_id() != request.events(i).event_id()) {
      CloseStream();
      return absl::InternalError(absl::StrCat("audit acknowledged event \"", ack.event_id(),
                                              "\" where \"", request.events(i).event_id(),
                                              "\" was sent"));
    }
    if (ack.status() == audit::v1::ACK_STATUS_REJECTED) {
      log::Error("audit rejected an outbox event; quarantined")
          .Str("event_id", ack.event_id())
          .Str("error", ack.error());
      rejected.emplace_back(ids[i], ack.error().empty() ? "rejected by audit" : ack.error());
    } else if (ack.status() == audit::v1::ACK_STATUS_STORED ||
               ack.status() == audit::v1::ACK_STATUS_DUPLICATE) {
      ++stored;
    } else {
      CloseStream();
      return absl::InternalError(
          absl::StrCat("audit acknowledged event \"", ack.event_id(), "\" with no status"));
    }
  }
  return MarkDelivered(ids, rejected, stored);
}

absl::Status Relay::MarkDelivered(std::vector<std::string> ids,
                                  const std::vector<std::pair<std::string, std::string>>& rejected,
                                  int64_t stored) {
  try {
    Guard guard(this);
    pqxx::work tx(*db_);
    for (const auto& [id, reason] : rejected) {
      // Kept with the reason, out of the queue: see idx_outbox_rejected.
      tx.exec_params("UPDATE outbox SET rejected_reason = $2 WHERE id = $1::bigint", id, reason);
      ids.push_back(id);  // a locally quarantined one is not among them yet: marked twice is fine
    }
    tx.exec_params("UPDATE outbox SET delivered_at = now() WHERE id = ANY($1::bigint[])",
                   db::ArrayLiteral(ids));
    tx.commit();
  } catch (const std::exception& e) {
    return DatabaseFailure(e);  // audit has them: the resend is acked as duplicates
  }
  delivered_ += stored;
  quarantined_ += static_cast<int64_t>(rejected.size());
  return absl::OkStatus();
}

}  // namespace crm::outbox
