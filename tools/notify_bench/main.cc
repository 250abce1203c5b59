// crm-notify-bench: how soon an agent hears of a lead assigned to them.
//
// From AssignLead returning to the agent's open WatchNotifications stream
// receiving the notification the assignment caused, at a steady --rate of
// assignments (open loop) for --duration, while --idle_users × --idle_per_user
// idle streams of other users are open too; and the notifications service's
// memory with those streams open. It runs against the suite of `tools/crm up
// --detach` and starts nothing.
//
//   1. sign in as the admin (--admin_password_file; never on a command line);
//   2. give the bench users (2 AGENTs, --idle_users CLIENTs, fixed emails
//      reused across runs) a new random password each, kept in memory only,
//      and sign them in (auth hashes each: setup takes about half a minute);
//   3. find or create --leads bench leads;
//   4. open the agents' and the idle streams (after_id 0) and wait until each
//      is established (its response headers arrive);
//   5. reassign the leads between the two agents at --rate (as the admin: no
//      notification is made for an agent assigning themself), matching each
//      notification to its assignment (assign_driver.h, assignments.h);
//   6. print the latencies, what went missing, and the service's VmRSS/VmHWM
//      (--service_pid) before, with the streams open and at the end.
//
// At the end the bench agents become CLIENTs again, so that lead routing
// (CaptureLead's round robin over active agents) does not pick them between
// runs. tools/bench/notifications_bench.sh runs it (`tools/crm bench
// notifications`); tools/README.md describes it.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/client/channel.h"
#include "common/client/tls_options.h"
#include "crm/notifications/v1/notification_service.grpc.pb.h"
#include "grpcpp/security/credentials.h"
#include "tools/common/tool_flags.h"
#include "tools/load/grpc_load.h"
#include "tools/load/login.h"
#include "tools/notify_bench/assign_driver.h"
#include "tools/notify_bench/assignments.h"
#include "tools/notify_bench/memory_status.h"
#include "tools/notify_bench/report.h"
#include "tools/notify_bench/setup.h"
#include "tools/notify_bench/watchers.h"

ABSL_FLAG(std::string, auth_address, "127.0.0.1:50051", "the auth service, host:port");
ABSL_FLAG(std::string, leads_address, "127.0.0.1:50052", "the leads service, host:port");
ABSL_FLAG(std::string, notifications_address, "127.0.0.1:50054",
          "the notifications service, host:port");
ABSL_FLAG(std::string, admin_email, "admin@crm.local", "the ADMIN the bench acts as");
ABSL_FLAG(std::string, admin_password_file, ".crm/secrets/admin_password",
          "the file holding --admin_email's password");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA bundle; set for TLS (else plaintext)");
ABSL_FLAG(std::string, tls_client_cert_file, "", "PEM client certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_client_key_file, "", "its PEM private key");

ABSL_FLAG(double, rate, 200, "AssignLead calls per second, sent on schedule (open loop)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(5), "assignments before the measured window");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "the measured window");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(5),
          "after the last assignment, how long notifications are waited for (later: missing)");
ABSL_FLAG(int32_t, idle_users, 200, "CLIENT users holding idle WatchNotifications streams");
ABSL_FLAG(int32_t, idle_per_user, 10, "idle streams per idle user");
ABSL_FLAG(int32_t, channels, 4, "HTTP/2 connections the idle streams are spread over");
ABSL_FLAG(int32_t, leads, 200,
          "bench leads reassigned in turn, at most one assignment in flight each (1..1000)");
ABSL_FLAG(std::string, email_prefix, "notify-bench",
          "bench users are <prefix>-agent-N@ and <prefix>-client-NNNN@bench.example.net, bench "
          "leads have external ids <prefix>-NNNN");
ABSL_FLAG(int32_t, setup_concurrency, 4,
          "password changes and sign-ins in flight during setup (auth hashes 2 at a time)");
ABSL_FLAG(int32_t, deadline_ms, 5000, "deadline of each AssignLead");
ABSL_FLAG(absl::Duration, watch_timeout, absl::Seconds(60),
          "time for every stream to be established");
ABSL_FLAG(int32_t, service_pid, 0,
          "the notifications service's pid, to read its VmRSS/VmHWM (0: not measured)");
ABSL_FLAG(double, target_p99_ms, 50, "the p99 the issue asks for (reported as met or not)");
ABSL_FLAG(double, max_error_ratio, 0.01,
          "exit 1 (after printing) when more than this share of the measured assignments failed "
          "or went missing");
ABSL_FLAG(bool, json, false, "print exactly one JSON line on stdout instead of the table");

namespace {

namespace nb = crm::notify_bench;
using crm::notifications::v1::NotificationService;

// Exit codes: 1 for a run that failed (setup, streams, too many errors), 2
// for a bad invocation (found before anything is sent).
constexpr int kRunFailed = 1;
constexpr int kUsage = 2;

constexpr int kAgents = 2;
// How long the leads service may keep answering from its user directory
// cache (common/users/user_directory.h: 5 s) after an agent's role changed.
constexpr absl::Duration kDirectoryTtl = absl::Seconds(6);

int Fail(int code, const std::string& message) {
  fprintf(stderr, "crm-notify-bench: %s\n", message.c_str());
  return code;
}

void Note(const std::string& message) {
  fprintf(stderr, "crm-notify-bench: %s\n", message.c_str());
}

std::optional<nb::MemoryStatus> Memory(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  absl::StatusOr<nb::MemoryStatus> m = nb::ReadMemoryStatus(pid);
  if (!m.ok()) {
    Note(absl::StrCat("warning: ", m.status().message()));
    return std::nullopt;
  }
  return *m;
}

// Signs the admin in, retried while auth's sign-in budget refuses.
absl::StatusOr<crm::load::AccessToken> AdminLogin(const std::shared_ptr<grpc::Channel>& auth,
                                                  const nb::CallPolicy& policy) {
  const absl::Time give_up = absl::Now() + policy.retry;
  while (true) {
    absl::StatusOr<crm::load::AccessToken> token =
        crm::load::Login(auth, absl::GetFlag(FLAGS_admin_email),
                         absl::GetFlag(FLAGS_admin_password_file), policy.call);
    if (token.ok() || token.status().code() != absl::StatusCode::kResourceExhausted ||
        absl::Now() > give_up) {
      return token;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

std::string WatchAdvice(const absl::Status& s) {
  if (absl::StrContains(s.message(), "UNIMPLEMENTED")) {
    return " (the notifications service does not implement WatchNotifications yet: nothing to "
           "measure)";
  }
  if (absl::StrContains(s.message(), "UNAUTHENTICATED")) {
    return " (the bench users' tokens were refused)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (absl::StatusOr<std::vector<char*>> parsed = crm::tools::ParseToolFlags(
          argc, argv,
          "the latency from AssignLead returning to the agent's WatchNotifications stream "
          "receiving the notification, at a steady rate, with many idle streams open.\n\n"
          "  crm-notify-bench --admin_password_file=.crm/secrets/admin_password "
          "--service_pid=$(cat .crm/run/notifications.pid)\n\n"
          "Runs against a running suite (tools/crm up --detach); tools/crm bench notifications "
          "passes the addresses, the password file and the pid. See tools/README.md.",
          "tools/notify_bench/", /*allow_positional=*/false);
      !parsed.ok()) {
    return Fail(kUsage, std::string(parsed.status().message()));
  }

  const double rate = absl::GetFlag(FLAGS_rate);
  const int idle_users = absl::GetFlag(FLAGS_idle_users);
  const int idle_per_user = absl::GetFlag(FLAGS_idle_per_user);
  const int channel_count = absl::GetFlag(FLAGS_channels);
  const int lead_count = absl::GetFlag(FLAGS_leads);
  const int setup_concurrency = absl::GetFlag(FLAGS_setup_concurrency);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  const absl::Duration deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  const int service_pid = absl::GetFlag(FLAGS_service_pid);
  if (!(rate > 0 && rate <= 10000) || idle_users < 0 || idle_per_user < 0 || channel_count < 1 ||
      lead_count < 1 || lead_count > 1000 || setup_concurrency < 1 ||
      deadline <= absl::ZeroDuration() || duration <= absl::ZeroDuration() ||
      warmup < absl::ZeroDuration() || drain < absl::ZeroDuration() || service_pid < 0) {
    return Fail(kUsage,
                "need 0 < --rate <= 10000, --idle_users and --idle_per_user >= 0, --channels, "
                "--setup_concurrency and --deadline_ms >= 1, 1 <= --leads <= 1000, --duration > "
                "0, --warmup and --drain >= 0, --service_pid >= 0");
  }
  const std::string prefix = absl::GetFlag(FLAGS_email_prefix);
  if (prefix.empty() || prefix.size() > 40 ||
      prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return Fail(kUsage, "--email_prefix: 1 to 40 of a-z, 0-9 and -");
  }
  if (absl::GetFlag(FLAGS_admin_password_file).empty()) {
    return Fail(kUsage, "--admin_password_file is required");
  }
  const crm::client::ClientTlsOptions tls{.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                                          .cert_file = absl::GetFlag(FLAGS_tls_client_cert_file),
                                          .key_file = absl::GetFlag(FLAGS_tls_client_key_file)};
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls.enabled() || !crm::client::ValidateClientTlsOptions(tls).ok()) {
    absl::StatusOr<grpc::SslCredentialsOptions> ssl = crm::client::LoadClientTls(tls);
    if (!ssl.ok()) {
      return Fail(kUsage, std::string(ssl.status().message()));
    }
    credentials = grpc::SslCredentials(*ssl);
  }

  const absl::Time started = absl::Now();
  nb::BenchReport report;
  report.rate = rate;
  report.warmup_s = absl::ToDoubleSeconds(warmup);
  report.duration_s = absl::ToDoubleSeconds(duration);
  report.idle_users = idle_users;
  report.idle_per_user = idle_per_user;
  report.leads = lead_count;
  report.channels = channel_count;
  report.target_p99_ms = absl::GetFlag(FLAGS_target_p99_ms);

  // Connections: auth, leads, and the notifications service's: one for the
  // agents' streams, --channels for the idle ones.
  const std::string notifications_address = absl::GetFlag(FLAGS_notifications_address);
  auto auth = crm::load::MakeChannels(absl::GetFlag(FLAGS_auth_address), credentials, 1)[0];
  auto leads = crm::load::MakeChannels(absl::GetFlag(FLAGS_leads_address), credentials, 1)[0];
  std::vector<std::shared_ptr<grpc::Channel>> watch_channels =
      crm::load::MakeChannels(notifications_address, credentials, channel_count + 1);
  const auto connect = [](const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                          const std::string& address) {
    return crm::load::WaitConnected(channels, address, absl::Seconds(10));
  };
  for (absl::Status s : {connect({auth}, absl::GetFlag(FLAGS_auth_address)),
                         connect({leads}, absl::GetFlag(FLAGS_leads_address)),
                         connect(watch_channels, notifications_address)}) {
    if (!s.ok()) {
      return Fail(kRunFailed, std::string(s.message()));
    }
  }

  const nb::CallPolicy policy;
  absl::StatusOr<crm::load::AccessToken> admin_token = AdminLogin(auth, policy);
  if (!admin_token.ok()) {
    return Fail(kRunFailed, std::string(admin_token.status().message()));
  }
  nb::Admin admin{.auth = auth, .leads = leads, .token = admin_token->token, .policy = policy};

  // 2. Users: passwords, then sign-ins.
  std::vector<nb::BenchUser> users = nb::BenchUsers(prefix, kAgents, idle_users);
  absl::Time t = absl::Now();
  absl::StatusOr<nb::UsersSetup> users_setup = nb::EnsureUsers(admin, users, setup_concurrency);
  if (!users_setup.ok()) {
    return Fail(kRunFailed, std::string(users_setup.status().message()));
  }
  const absl::Time roles_set = absl::Now();
  report.users_s = absl::ToDoubleSeconds(roles_set - t);
  Note(absl::StrCat("bench users: ", users_setup->created, " created, ", users_setup->reset,
                    " existing given a new password, ", users_setup->role_changed,
                    " given their role back"));
  const std::vector<nb::BenchUser> agents(users.begin(), users.begin() + kAgents);
  // From here on, every way out turns the bench agents back into CLIENTs.
  const auto demote_agents = [&] {
    for (const nb::BenchUser& agent : agents) {
      if (absl::Status s = nb::SetRole(admin, agent, crm::auth::v1::ROLE_CLIENT); !s.ok()) {
        Note(absl::StrCat("warning: ", agent.email, " stays an AGENT: ", s.message()));
      }
    }
  };
  const auto fail = [&](int code, const std::string& message) {
    demote_agents();
    return Fail(code, message);
  };

  t = absl::Now();
  if (absl::Status s = nb::SignInAll(auth, users, setup_concurrency, policy); !s.ok()) {
    return fail(kRunFailed, std::string(s.message()));
  }
  report.sign_in_s = absl::ToDoubleSeconds(absl::Now() - t);

  // 3. Leads.
  absl::StatusOr<std::vector<nb::BenchLead>> bench_leads =
      nb::EnsureLeads(admin, prefix, lead_count);
  if (!bench_leads.ok()) {
    return fail(kRunFailed, std::string(bench_leads.status().message()));
  }

  // 4. Streams: the agents' first (their notifications go to the tracker),
  // then the idle ones, spread over the other connections.
  report.memory_before = Memory(service_pid);
  // Declared before the streams, which use them until they are cancelled.
  std::vector<std::unique_ptr<NotificationService::Stub>> stubs;
  for (const auto& channel : watch_channels) {
    stubs.push_back(NotificationService::NewStub(channel));
  }
  nb::AssignmentTracker tracker;
  const int64_t agent_ids[kAgents] = {agents[0].id, agents[1].id};
  nb::WatcherSet agent_streams(
      [&](int stream, const crm::notifications::v1::Notification& n, int64_t received_ns) {
        if (n.kind() == "lead.assigned" && n.entity_type() == "lead") {
          tracker.Delivered(agent_ids[stream], n.entity_id(), received_ns);
        } else {
          tracker.OtherNotification();
        }
      });
  nb::WatcherSet idle_streams;
  t = absl::Now();
  Note(absl::StrCat("opening ", kAgents, " agent streams and ", idle_users * idle_per_user,
                    " idle streams"));
  for (int a = 0; a < kAgents; ++a) {
    agent_streams.Open(*stubs[0], users[a].token);
  }
  for (int u = 0; u < idle_users; ++u) {
    for (int i = 0; i < idle_per_user; ++i) {
      const int n = u * idle_per_user + i;
      idle_streams.Open(*stubs[1 + n % channel_count], users[kAgents + u].token);
    }
  }
  const absl::Duration watch_timeout = absl::GetFlag(FLAGS_watch_timeout);
  const auto streams_failed = [&](const absl::Status& s) {
    agent_streams.CancelAll(absl::Seconds(5));
    idle_streams.CancelAll(absl::Seconds(5));
    return fail(kRunFailed, absl::StrCat(s.message(), WatchAdvice(s)));
  };
  for (nb::WatcherSet* set : {&agent_streams, &idle_streams}) {
    if (absl::Status s = set->WaitEstablished(watch_timeout); !s.ok()) {
      return streams_failed(s);
    }
  }
  report.watchers_s = absl::ToDoubleSeconds(absl::Now() - t);
  Note(
      absl::StrFormat("all %d streams established in %.2f s (%d opens turned away busy and "
                      "retried)",
                      kAgents + idle_users * idle_per_user, report.watchers_s,
                      agent_streams.Counts().busy_retries + idle_streams.Counts().busy_retries));
  // A moment for the service to settle before its memory is read, and for a
  // refusal that came after empty headers to show.
  absl::SleepFor(absl::Seconds(1));
  for (nb::WatcherSet* set : {&agent_streams, &idle_streams}) {
    if (absl::Status s = set->CheckOpen(); !s.ok()) {
      return streams_failed(s);
    }
  }
  report.memory_open = Memory(service_pid);

  // 5. The load. An agent whose role was just given back may still be seen
  // as a CLIENT by the leads service for a few seconds.
  if (users_setup->role_changed > 0 && absl::Now() < roles_set + kDirectoryTtl) {
    absl::SleepFor(roles_set + kDirectoryTtl - absl::Now());
  }
  const absl::Duration needed = warmup + duration + drain + deadline + absl::Seconds(30);
  if (admin_token->expires_at < absl::Now() + needed) {
    admin_token = AdminLogin(auth, policy);
    if (!admin_token.ok()) {
      return fail(kRunFailed, std::string(admin_token.status().message()));
    }
    admin.token = admin_token->token;
  }
  report.setup_s = absl::ToDoubleSeconds(absl::Now() - started);
  Note(absl::StrCat("assigning at ", rate, "/s: ", absl::FormatDuration(warmup), " warm-up + ",
                    absl::FormatDuration(duration), " measured"));
  report.drive = nb::DriveAssignments(leads, *std::move(bench_leads),
                                      {.rate = rate,
                                       .warmup = warmup,
                                       .duration = duration,
                                       .drain = drain,
                                       .deadline = deadline,
                                       .agent_a = agent_ids[0],
                                       .agent_b = agent_ids[1],
                                       .admin_token = admin.token},
                                      tracker);

  // 6. The figures.
  report.memory_end = Memory(service_pid);
  report.delivery = tracker.Report();
  report.agent = agent_streams.Counts();
  report.idle = idle_streams.Counts();
  agent_streams.CancelAll(absl::Seconds(10));
  idle_streams.CancelAll(absl::Seconds(10));
  demote_agents();

  if (absl::GetFlag(FLAGS_json)) {
    printf("%s\n", nb::ReportJson(report).dump().c_str());
  } else {
    printf("%s", nb::FormatReport(report).c_str());
  }
  fflush(stdout);

  const nb::DeliveryReport& d = report.delivery;
  if (d.sent == 0 || d.delivered == 0) {
    return Fail(kRunFailed, "no assignment was notified: nothing measured");
  }
  if (report.agent.ended > 0) {
    return Fail(kRunFailed,
                absl::StrCat("an agent's stream ended during the run (", report.agent.first_end,
                             "): its notifications are "
                             "missing"));
  }
  const double bad = static_cast<double>(d.error_count + d.missing + d.pending);
  if (bad > absl::GetFlag(FLAGS_max_error_ratio) * static_cast<double>(d.sent)) {
    return Fail(kRunFailed,
                absl::StrCat(d.error_count, " errors and ", d.missing + d.pending, " missing of ",
                             d.sent, " assignments: above --max_error_ratio"));
  }
  return 0;
}
