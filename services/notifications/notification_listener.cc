#include "services/notifications/notification_listener.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/db/connect.h"
#include "common/db/pool.h"
#include "common/log/log.h"
#include "services/notifications/notification_repository.h"

namespace crm::notifications {
namespace {

constexpr char kChannel[] = "crm_notifications";
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

// Collects the ids of new notifications whose recipient is watched here.
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, NotificationHub* hub)
      : notification_receiver(conn, kChannel), hub_(hub) {}

  void operator()(const std::string& payload, int /*backend_pid*/) override {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(payload, ':');
    int64_t recipient = 0;
    int64_t id = 0;
    if (absl::SimpleAtoi(parts.first, &recipient) && absl::SimpleAtoi(parts.second, &id) &&
        hub_->Watched(recipient)) {
      ids.push_back(id);
    }
  }

  std::vector<int64_t> ids;

 private:
  NotificationHub* const hub_;
};

}  // namespace

NotificationListener::NotificationListener(std::string dsn, NotificationHub* hub)
    : dsn_(std::move(dsn)), hub_(hub) {}

NotificationListener::~NotificationListener() { Stop(); }

void NotificationListener::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NotificationListener::Stop() {
  stopping_ = true;
  if (!stop_.HasBeenNotified()) {
    stop_.Notify();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void NotificationListener::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  bool first = true;
  while (!stop_.HasBeenNotified()) {
    const absl::Time started = absl::Now();
    Listen();
    if (stop_.HasBeenNotified()) {
      break;
    }
    if (absl::Now() - started > absl::Seconds(30)) {
      backoff = absl::Milliseconds(100);  // it had been up a while: a fresh failure
    }
    if (!first) {
      log::Warning("notification listener reconnecting")
          .Int("backoff_ms", absl::ToInt64Milliseconds(backoff));
    }
    first = false;
    stop_.WaitForNotificationWithTimeout(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void NotificationListener::Listen() {
  try {
    std::unique_ptr<db::BoundedConnection> conn =
        db::ConnectPqxxBefore(db::WithConnectionDefaults(dsn_, kConnectTimeout),
                              absl::Now() + kConnectTimeout, &stopping_);
    {
      pqxx::nontransaction setup(*conn);
      setup.exec("SET statement_timeout = 5000");
      setup.commit();
    }
    Receiver receiver(*conn, hub_);
    listening_ = true;
    // Anything committed while nobody listened is read from the database.
    hub_->ResyncAll();
    while (!stop_.HasBeenNotified()) {
      conn->await_notification(0, 200000);  // short slices keep Stop() prompt
      if (receiver.ids.empty()) {
        continue;
      }
      std::vector<int64_t> ids = std::move(receiver.ids);
      receiver.ids.clear();
      std::vector<NotificationRecord> records;
      {
        pqxx::nontransaction tx(*conn);
        records = NotificationRepository::ReadByIds(tx, ids);
      }
      hub_->Publish(records);
    }
  } catch (const std::exception& e) {
    log::Warning("notification listener lost its connection").Str("error", e.what());
  }
  listening_ = false;
}

}  // namespace crm::notifications
