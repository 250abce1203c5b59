#include "tools/gateway_bench/parts.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/client/channel.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "tools/gateway_bench/http_load.h"
#include "tools/gateway_bench/http_socket.h"
#include "tools/gateway_bench/web_response.h"
#include "tools/gateway_bench/web_watchers.h"
#include "tools/load/grpc_load.h"
#include "tools/load/request_template.h"
#include "tools/notify_bench/assignments.h"
#include "tools/notify_bench/memory_status.h"
#include "tools/notify_bench/watchers.h"

namespace crm::gateway_bench {
namespace {

using notifications::v1::NotificationService;

constexpr char kGetUser[] = "/crm.auth.v1.UserService/GetUser";
constexpr char kWatch[] = "/crm.notifications.v1.NotificationService/WatchNotifications";

void Note(const std::string& message) {
  fprintf(stderr, "crm-gateway-bench: %s\n", message.c_str());
}

std::string StatusText(const grpc::Status& s) {
  const std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()));
  return s.error_message().empty() ? code : absl::StrCat(code, ": ", s.error_message());
}

std::string WebStatusText(int grpc_status, const std::string& message) {
  const std::string code =
      grpc_status < 0 ? "no grpc-status"
                      : absl::StatusCodeToString(static_cast<absl::StatusCode>(grpc_status));
  return message.empty() ? code : absl::StrCat(code, ": ", message);
}

std::vector<std::pair<std::string, std::string>> Authorization(const Session& session) {
  return {{"authorization", absl::StrCat("Bearer ", session.token)}};
}

std::unique_ptr<grpc::ClientContext> CallContext(const Session& session) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(client::DeadlineAfter(session.deadline));
  context->AddMetadata("authorization", absl::StrCat("Bearer ", session.token));
  return context;
}

std::optional<notify_bench::MemoryStatus> Memory(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  absl::StatusOr<notify_bench::MemoryStatus> m = notify_bench::ReadMemoryStatus(pid);
  if (!m.ok()) {
    Note(absl::StrCat("warning: ", m.status().message()));
    return std::nullopt;
  }
  return *m;
}

// CreateNotification for the admin; its id and the time it returned.
struct Created {
  int64_t id = 0;
  int64_t sent_ns = 0;
  int64_t returned_ns = 0;
};
absl::StatusOr<Created> CreateForAdmin(const Session& session, const std::string& title) {
  notifications::v1::CreateNotificationRequest request;
  request.set_recipient_id(session.admin_id);
  request.set_kind("system.message");
  request.set_title(title);
  request.set_message("Made by crm-gateway-bench (tools/gateway_bench) to time live push.");
  notifications::v1::CreateNotificationResponse response;
  auto context = CallContext(session);
  Created created;
  created.sent_ns = notify_bench::MonotonicNowNs();
  const grpc::Status status = NotificationService::NewStub(session.notifications)
                                  ->CreateNotification(context.get(), request, &response);
  created.returned_ns = notify_bench::MonotonicNowNs();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  created.id = response.notification().id();
  return created;
}

std::string WatchRequest(const Session& session) {
  notifications::v1::WatchNotificationsRequest request;
  request.set_after_id(0);
  return EncodeWebRequest(session.gateway_address, kWatch, Authorization(session),
                          request.SerializeAsString());
}

// Checks one GetUser through the gateway answers the admin with grpc-status
// 0 in its trailer frame; the answer's size.
absl::StatusOr<size_t> CheckGatewayGetUser(const Session& session, const std::string& request) {
  absl::StatusOr<std::vector<WebEvent>> events =
      CallOnce(session.gateway, request, session.deadline);
  if (!events.ok()) {
    return absl::UnavailableError(absl::StrCat("GetUser through the gateway at ",
                                               session.gateway_address,
                                               " failed: ", events.status().message()));
  }
  const WebEvent& end = events->back();
  std::vector<const WebEvent*> messages;
  for (const WebEvent& e : *events) {
    if (e.kind == WebEvent::Kind::kMessage) {
      messages.push_back(&e);
    }
  }
  if (end.http_status != 200 || end.grpc_status != 0 || end.trailers_only || messages.size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("GetUser through the gateway did not succeed: HTTP %d, %s%s, %d messages",
                        end.http_status, WebStatusText(end.grpc_status, end.grpc_message),
                        end.trailers_only ? " (trailers-only)" : "", messages.size()));
  }
  auth::v1::GetUserResponse response;
  if (!response.ParseFromString(messages[0]->payload) || response.user().id() != session.admin_id) {
    return absl::FailedPreconditionError(
        "GetUser through the gateway answered grpc-status 0, but not with the admin");
  }
  return messages[0]->payload.size();
}

// Each notification's first arrival on each stream, by id.
class ArrivalBook {
 public:
  struct Arrival {
    int64_t direct_ns = 0;
    int64_t gateway_ns = 0;
  };

  void Direct(int64_t id, int64_t ns) {
    absl::MutexLock lock(&mu_);
    Arrival& a = by_id_[id];
    if (a.direct_ns == 0) {
      a.direct_ns = ns;
    }
  }
  void Gateway(int64_t id, int64_t ns) {
    absl::MutexLock lock(&mu_);
    Arrival& a = by_id_[id];
    if (a.gateway_ns == 0) {
      a.gateway_ns = ns;
    }
  }
  absl::flat_hash_map<int64_t, Arrival> Snapshot() const {
    absl::MutexLock lock(&mu_);
    return by_id_;
  }
  // True when every id in `ids` has arrived on both streams.
  bool AllArrived(const std::vector<Created>& ids) const {
    absl::MutexLock lock(&mu_);
    for (const Created& c : ids) {
      auto it = by_id_.find(c.id);
      if (it == by_id_.end() || it->second.direct_ns == 0 || it->second.gateway_ns == 0) {
        return false;
      }
    }
    return true;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, Arrival> by_id_ ABSL_GUARDED_BY(mu_);
};

// Which streams received which notification, and when (first arrival each).
class FanoutBook {
 public:
  void Arrived(int stream, int64_t id, int64_t ns) {
    absl::MutexLock lock(&mu_);
    by_id_[id].emplace(stream, ns);
  }
  absl::flat_hash_map<int, int64_t> Of(int64_t id) const {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? absl::flat_hash_map<int, int64_t>() : it->second;
  }
  size_t Count(int64_t id) const {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? 0 : it->second.size();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, absl::flat_hash_map<int, int64_t>> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void MarkRead(const Session& session, const std::vector<int64_t>& ids) {
  if (ids.empty()) {
    return;
  }
  notifications::v1::MarkNotificationsReadRequest request;
  for (int64_t id : ids) {
    request.add_ids(id);
  }
  notifications::v1::MarkNotificationsReadResponse response;
  auto context = CallContext(session);
  const grpc::Status status = NotificationService::NewStub(session.notifications)
                                  ->MarkNotificationsRead(context.get(), request, &response);
  if (!status.ok()) {
    Note(absl::StrCat("warning: the bench's ", ids.size(),
                      " notifications stay unread: MarkNotificationsRead: ", StatusText(status)));
  }
}

absl::StatusOr<UnaryReport> RunUnary(const Session& session, const UnaryOptions& options) {
  UnaryReport report;
  report.method = kGetUser;
  report.concurrency = options.concurrency;
  report.channels = options.channels;
  report.threads = options.threads;
  report.warmup_s = absl::ToDoubleSeconds(options.warmup);
  report.duration_s = absl::ToDoubleSeconds(options.duration);
  report.target_ratio = options.target_ratio;

  auth::v1::GetUserRequest get;
  get.set_id(session.admin_id);
  const std::string message = get.SerializeAsString();

  // Both ways answer, with the admin, before anything is measured.
  {
    auth::v1::GetUserResponse response;
    auto context = CallContext(session);
    const grpc::Status status =
        auth::v1::UserService::NewStub(session.auth)->GetUser(context.get(), get, &response);
    if (!status.ok() || response.user().id() != session.admin_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("GetUser straight to auth did not answer the admin: ", StatusText(status)));
    }
  }
  const std::string http_request =
      EncodeWebRequest(session.gateway_address, kGetUser, Authorization(session), message);
  report.http_request_bytes = http_request.size();
  absl::StatusOr<size_t> response_bytes = CheckGatewayGetUser(session, http_request);
  if (!response_bytes.ok()) {
    return response_bytes.status();
  }
  report.response_bytes = *response_bytes;
  Note(absl::StrCat("checked: GetUser through the gateway answers grpc-status 0 with the admin (",
                    *response_bytes, "-byte message)"));

  absl::StatusOr<std::unique_ptr<load::RequestSet>> requests =
      load::RequestSet::Create(auth::v1::GetUserRequest::descriptor(),
                               {{.label = "GetUser of the admin",
                                 .json = absl::StrCat("{\"id\":\"", session.admin_id, "\"}")}},
                               load::NumberSpec{});
  if (!requests.ok()) {
    return requests.status();
  }
  const std::vector<std::shared_ptr<grpc::Channel>> channels =
      load::MakeChannels(session.auth_address, session.credentials, options.channels);
  if (absl::Status s = load::WaitConnected(channels, session.auth_address, absl::Seconds(10));
      !s.ok()) {
    return s;
  }
  load::GrpcRunOptions direct{.method_path = kGetUser,
                              .requests = requests->get(),
                              .metadata = Authorization(session),
                              .concurrency = options.concurrency,
                              .threads = options.threads,
                              .deadline = session.deadline,
                              .warmup = options.warmup,
                              .duration = options.duration};
  HttpLoadOptions gateway{.address = session.gateway,
                          .request = http_request,
                          .connections = options.concurrency,
                          .threads = options.threads,
                          .deadline = session.deadline,
                          .warmup = options.warmup,
                          .duration = options.duration};
  for (int round = 0; round < options.rounds; ++round) {
    // Alternating which side goes first, so neither always runs on a machine
    // the other has just warmed (or heated).
    const bool direct_first = round % 2 == 0;
    for (int side = 0; side < 2; ++side) {
      if ((side == 0) == direct_first) {
        report.direct_rounds.push_back(load::RunGrpc(channels, direct));
      } else {
        absl::StatusOr<load::Summary> s = RunHttpLoad(gateway);
        if (!s.ok()) {
          return s.status();
        }
        report.gateway_rounds.push_back(*s);
      }
    }
    const double d = report.direct_rounds.back().rps;
    const double g = report.gateway_rounds.back().rps;
    Note(absl::StrFormat("round %d/%d: direct %.0f/s, gateway %.0f/s (%.2f×)", round + 1,
                         options.rounds, d, g, d > 0 ? g / d : 0));
  }
  report.direct = load::MedianOf(report.direct_rounds);
  report.gateway = load::MedianOf(report.gateway_rounds);
  return report;
}

absl::StatusOr<FirstMessageReport> RunFirstMessage(const Session& session,
                                                   const FirstMessageOptions& options) {
  FirstMessageReport report;
  report.asked = options.notifications;
  report.interval_ms = absl::ToDoubleMilliseconds(options.interval);
  report.target_p50_ms = options.target_p50_ms;

  ArrivalBook book;
  auto stub = NotificationService::NewStub(session.notifications);
  notify_bench::WatcherSet direct(
      [&book](int, const notifications::v1::Notification& n, int64_t received_ns) {
        book.Direct(n.id(), received_ns);
      });
  WebWatcherSet gateway({.address = session.gateway, .request = WatchRequest(session)},
                        [&book](int, const notifications::v1::Notification& n,
                                int64_t received_ns) { book.Gateway(n.id(), received_ns); });
  direct.Open(*stub, session.token);
  gateway.Open(1);
  if (absl::Status s = direct.WaitEstablished(options.watch_timeout); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("the direct stream: ", s.message()));
  }
  if (absl::Status s = gateway.WaitEstablished(options.watch_timeout); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("the stream through the gateway: ", s.message()));
  }
  absl::SleepFor(absl::Milliseconds(200));
  for (absl::Status s : {direct.CheckOpen(), gateway.CheckOpen()}) {
    if (!s.ok()) {
      return s;
    }
  }
  Note(absl::StrCat("both streams live; ", options.notifications,
                    " CreateNotification for the admin, one every ",
                    absl::FormatDuration(options.interval)));

  std::vector<Created> created;
  const absl::Time start = absl::Now();
  for (int i = 0; i < options.notifications; ++i) {
    const absl::Time due = start + i * options.interval;
    if (const absl::Time now = absl::Now(); due > now) {
      absl::SleepFor(due - now);
    }
    absl::StatusOr<Created> c = CreateForAdmin(
        session, absl::StrCat("crm-gateway-bench ", i + 1, "/", options.notifications));
    if (!c.ok()) {
      ++report.errors[absl::StatusCodeToString(c.status().code())];
      continue;
    }
    created.push_back(*c);
    report.create_ns.push_back(c->returned_ns - c->sent_ns);
  }
  report.created = static_cast<int>(created.size());
  const absl::Time give_up = absl::Now() + options.drain;
  while (!book.AllArrived(created) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }

  const absl::flat_hash_map<int64_t, ArrivalBook::Arrival> arrivals = book.Snapshot();
  absl::flat_hash_set<int64_t> ours;
  for (const Created& c : created) {
    ours.insert(c.id);
    auto it = arrivals.find(c.id);
    if (it == arrivals.end()) {
      continue;
    }
    const ArrivalBook::Arrival& a = it->second;
    if (a.direct_ns != 0) {
      ++report.direct_received;
      report.direct_ns.push_back(a.direct_ns - c.returned_ns);
    }
    if (a.gateway_ns != 0) {
      ++report.gateway_received;
      report.gateway_ns.push_back(a.gateway_ns - c.returned_ns);
    }
    if (a.direct_ns != 0 && a.gateway_ns != 0) {
      ++report.both;
      report.gap_ns.push_back(a.gateway_ns - a.direct_ns);
      report.gateway_first += a.gateway_ns < a.direct_ns ? 1 : 0;
    }
  }
  for (const auto& [id, arrival] : arrivals) {
    report.others += ours.contains(id) ? 0 : 1;
  }
  report.direct_stream = direct.Counts();
  report.gateway_stream = gateway.Counts();
  direct.CancelAll(absl::Seconds(5));
  gateway.CloseAll();
  std::vector<int64_t> ids;
  for (const Created& c : created) {
    ids.push_back(c.id);
  }
  MarkRead(session, ids);
  return report;
}

absl::StatusOr<StreamsReport> RunStreams(const Session& session, const StreamsOptions& options) {
  StreamsReport report;
  report.streams = options.streams;
  if (absl::Status s = RaiseOpenFileLimit(options.streams + 256); !s.ok()) {
    return s;
  }
  report.before = Memory(options.gateway_pid);
  FanoutBook book;
  WebWatcherSet streams(
      {.address = session.gateway,
       .request = WatchRequest(session),
       .max_connecting = options.max_connecting},
      [&book](int stream, const notifications::v1::Notification& n, int64_t received_ns) {
        book.Arrived(stream, n.id(), received_ns);
      });
  Note(
      absl::StrCat("opening ", options.streams, " WatchNotifications streams through the gateway"));
  const absl::Time t = absl::Now();
  streams.Open(options.streams);
  if (absl::Status s = streams.WaitEstablished(options.watch_timeout); !s.ok()) {
    return s;
  }
  report.establish_s = absl::ToDoubleSeconds(absl::Now() - t);
  Note(absl::StrFormat("all %d streams live in %.2f s (%d refused busy and retried)",
                       options.streams, report.establish_s, streams.Counts().busy_retries));
  // A moment for the gateway to settle before its memory is read, and for a
  // refusal that came after headers to show.
  absl::SleepFor(absl::Seconds(1));
  if (absl::Status s = streams.CheckOpen(); !s.ok()) {
    return s;
  }
  report.open = Memory(options.gateway_pid);

  absl::StatusOr<Created> c = CreateForAdmin(
      session,
      absl::StrCat("crm-gateway-bench: one notification to ", options.streams, " streams"));
  if (!c.ok()) {
    return absl::UnavailableError(
        absl::StrCat("CreateNotification for the fan-out failed: ", c.status().ToString()));
  }
  const absl::Time give_up = absl::Now() + options.fanout_timeout;
  while (book.Count(c->id) < static_cast<size_t>(options.streams) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (const auto& [stream, ns] : book.Of(c->id)) {
    report.fanout_ns.push_back(ns - c->returned_ns);
  }
  report.delivered = static_cast<int>(report.fanout_ns.size());
  report.counts = streams.Counts();
  report.after = Memory(options.gateway_pid);
  streams.CloseAll();
  absl::SleepFor(absl::Seconds(1));
  report.closed = Memory(options.gateway_pid);
  MarkRead(session, {c->id});
  return report;
}

}  // namespace crm::gateway_bench
