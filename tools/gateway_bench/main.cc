// crm-gateway-bench: what the gRPC-web gateway (crm-gateway) costs a
// browser's calls, against the same calls made straight to the services, in
// one run against the suite of `tools/crm up --detach` (it starts nothing):
//
//   unary          GetUser of the admin through the gateway (gRPC-web over
//                  HTTP/1.1 keep-alive, --concurrency connections, one call
//                  in flight each) and straight to auth (gRPC, crm-load's
//                  closed loop, --concurrency in flight), alternating
//                  --rounds, medians: throughput gateway / direct;
//   first_message  WatchNotifications of the admin opened both ways, then
//                  --notifications CreateNotification for the admin one at a
//                  time: each notification's arrival through the gateway
//                  against its arrival on the direct stream;
//   streams        --streams WatchNotifications through the gateway (one
//                  socket each), the gateway's VmRSS/VmHWM before and with
//                  them open (--gateway_pid), and one notification that must
//                  reach every one.
//
// It signs in as the admin first (--admin_password_file; the password and
// the token never reach a command line). --part picks one part or all.
// tools/bench/gateway_bench.sh runs it (`tools/crm bench gateway`), raising
// the notifications service's per-user stream cap for the streams part;
// tools/README.md describes it.

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/client/channel.h"
#include "common/client/tls_options.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "tools/common/tool_flags.h"
#include "tools/gateway_bench/http_socket.h"
#include "tools/gateway_bench/parts.h"
#include "tools/gateway_bench/report.h"
#include "tools/load/grpc_load.h"
#include "tools/load/login.h"

ABSL_FLAG(std::string, part, "all", "unary, first_message, streams or all");
ABSL_FLAG(std::string, gateway_address, "127.0.0.1:8080", "the gateway, IPv4 host:port");
ABSL_FLAG(std::string, auth_address, "127.0.0.1:50051", "the auth service, host:port");
ABSL_FLAG(std::string, notifications_address, "127.0.0.1:50054",
          "the notifications service, host:port");
ABSL_FLAG(std::string, admin_email, "admin@crm.local", "the ADMIN the bench acts as");
ABSL_FLAG(std::string, admin_password_file, ".crm/secrets/admin_password",
          "the file holding --admin_email's password");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA bundle for the direct gRPC calls (else plaintext)");
ABSL_FLAG(std::string, tls_client_cert_file, "", "PEM client certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_client_key_file, "", "its PEM private key");
ABSL_FLAG(int32_t, deadline_ms, 5000, "deadline of every call (and gateway answer)");

ABSL_FLAG(int32_t, concurrency, 16,
          "unary: calls in flight each way (gateway: keep-alive connections, one call each)");
ABSL_FLAG(int32_t, channels, 2, "unary: HTTP/2 connections of the direct side");
ABSL_FLAG(int32_t, threads, 2, "unary: client threads of each side");
ABSL_FLAG(int32_t, rounds, 3, "unary: rounds (each: one direct run and one gateway run)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "unary: unmeasured load before each run");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "unary: measured window of each run");
ABSL_FLAG(double, target_ratio, 0.6, "unary: the throughput gateway / direct the issue asks for");
ABSL_FLAG(double, max_error_ratio, 0.01,
          "unary: exit 1 (after printing) when more than this share of a run's calls failed");

ABSL_FLAG(int32_t, notifications, 200, "first_message: CreateNotification calls");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(20),
          "first_message: one CreateNotification every this long");
ABSL_FLAG(double, target_p50_ms, 5,
          "first_message: the p50 of (gateway arrival − direct arrival) the issue asks for");

ABSL_FLAG(int32_t, streams, 2000, "streams: WatchNotifications streams through the gateway");
ABSL_FLAG(int32_t, max_connecting, 128, "streams: streams being opened at once, at most");
ABSL_FLAG(absl::Duration, watch_timeout, absl::Seconds(60),
          "streams: time for every stream to be established");
ABSL_FLAG(int32_t, gateway_pid, 0,
          "streams: the gateway's pid, to read its VmRSS/VmHWM (0: not measured)");

ABSL_FLAG(bool, json, false, "print exactly one JSON line on stdout instead of the tables");
ABSL_FLAG(std::string, json_out, "", "also write that JSON line to this file");

namespace {

namespace gb = crm::gateway_bench;

// Exit codes: 1 for a run that failed (setup, a check, streams, too many
// errors), 2 for a bad invocation (found before anything is sent).
constexpr int kRunFailed = 1;
constexpr int kUsage = 2;

int Fail(int code, const std::string& message) {
  fprintf(stderr, "crm-gateway-bench: %s\n", message.c_str());
  return code;
}

absl::StatusOr<crm::load::AccessToken> AdminLogin(const std::shared_ptr<grpc::Channel>& auth) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (true) {
    absl::StatusOr<crm::load::AccessToken> token =
        crm::load::Login(auth, absl::GetFlag(FLAGS_admin_email),
                         absl::GetFlag(FLAGS_admin_password_file), absl::Seconds(10));
    // auth's sign-in budget: wait for it.
    if (token.ok() || token.status().code() != absl::StatusCode::kResourceExhausted ||
        absl::Now() > give_up) {
      return token;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (absl::StatusOr<std::vector<char*>> parsed = crm::tools::ParseToolFlags(
          argc, argv,
          "what the gRPC-web gateway costs: unary throughput through it against the same call "
          "direct, a server stream's messages through it against direct, and its memory with many "
          "streams open.\n\n"
          "  crm-gateway-bench --admin_password_file=.crm/secrets/admin_password "
          "--gateway_pid=$(cat .crm/run/gateway.pid)\n\n"
          "Runs against a running suite (tools/crm up --detach); tools/crm bench gateway passes "
          "the addresses, the password file and the pid. See tools/README.md.",
          "tools/gateway_bench/", /*allow_positional=*/false);
      !parsed.ok()) {
    return Fail(kUsage, std::string(parsed.status().message()));
  }

  const std::string part = absl::GetFlag(FLAGS_part);
  const bool all = part == "all";
  if (!all && part != "unary" && part != "first_message" && part != "streams") {
    return Fail(kUsage, "--part: unary, first_message, streams or all");
  }
  const gb::UnaryOptions unary{.concurrency = absl::GetFlag(FLAGS_concurrency),
                               .channels = absl::GetFlag(FLAGS_channels),
                               .threads = absl::GetFlag(FLAGS_threads),
                               .rounds = absl::GetFlag(FLAGS_rounds),
                               .warmup = absl::GetFlag(FLAGS_warmup),
                               .duration = absl::GetFlag(FLAGS_duration),
                               .target_ratio = absl::GetFlag(FLAGS_target_ratio)};
  const gb::FirstMessageOptions first{.notifications = absl::GetFlag(FLAGS_notifications),
                                      .interval = absl::GetFlag(FLAGS_interval),
                                      .drain = absl::Seconds(5),
                                      .watch_timeout = absl::Seconds(10),
                                      .target_p50_ms = absl::GetFlag(FLAGS_target_p50_ms)};
  const gb::StreamsOptions streams{.streams = absl::GetFlag(FLAGS_streams),
                                   .max_connecting = absl::GetFlag(FLAGS_max_connecting),
                                   .watch_timeout = absl::GetFlag(FLAGS_watch_timeout),
                                   .fanout_timeout = absl::Seconds(10),
                                   .gateway_pid = absl::GetFlag(FLAGS_gateway_pid)};
  const absl::Duration deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  if (unary.concurrency < 1 || unary.concurrency > 1000 || unary.channels < 1 ||
      unary.channels > unary.concurrency || unary.threads < 1 || unary.rounds < 1 ||
      unary.warmup < absl::ZeroDuration() || unary.duration <= absl::ZeroDuration() ||
      first.notifications < 1 || first.interval < absl::ZeroDuration() || streams.streams < 1 ||
      streams.streams > 100000 || streams.max_connecting < 1 || streams.gateway_pid < 0 ||
      deadline <= absl::ZeroDuration()) {
    return Fail(kUsage,
                "need 1 <= --concurrency <= 1000, 1 <= --channels <= --concurrency, --threads, "
                "--rounds, --notifications, --max_connecting and --deadline_ms >= 1, --duration "
                "> 0, --warmup and --interval >= 0, 1 <= --streams <= 100000, --gateway_pid >= 0");
  }
  if (absl::GetFlag(FLAGS_admin_password_file).empty()) {
    return Fail(kUsage, "--admin_password_file is required");
  }
  gb::Session session;
  session.gateway_address = absl::GetFlag(FLAGS_gateway_address);
  absl::StatusOr<sockaddr_in> gateway = gb::ParseAddress(session.gateway_address);
  if (!gateway.ok()) {
    return Fail(kUsage, absl::StrCat("--gateway_address: ", gateway.status().message()));
  }
  session.gateway = *gateway;
  session.deadline = deadline;
  const crm::client::ClientTlsOptions tls{.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                                          .cert_file = absl::GetFlag(FLAGS_tls_client_cert_file),
                                          .key_file = absl::GetFlag(FLAGS_tls_client_key_file)};
  session.credentials = grpc::InsecureChannelCredentials();
  if (tls.enabled() || !crm::client::ValidateClientTlsOptions(tls).ok()) {
    absl::StatusOr<grpc::SslCredentialsOptions> ssl = crm::client::LoadClientTls(tls);
    if (!ssl.ok()) {
      return Fail(kUsage, std::string(ssl.status().message()));
    }
    session.credentials = grpc::SslCredentials(*ssl);
  }

  // Setup: the direct connections, the admin's token and id.
  session.auth_address = absl::GetFlag(FLAGS_auth_address);
  const std::string notifications_address = absl::GetFlag(FLAGS_notifications_address);
  session.auth = crm::load::MakeChannels(session.auth_address, session.credentials, 1)[0];
  session.notifications = crm::load::MakeChannels(notifications_address, session.credentials, 1)[0];
  for (absl::Status s :
       {crm::load::WaitConnected({session.auth}, session.auth_address, absl::Seconds(10)),
        crm::load::WaitConnected({session.notifications}, notifications_address,
                                 absl::Seconds(10))}) {
    if (!s.ok()) {
      return Fail(kRunFailed, std::string(s.message()));
    }
  }
  absl::StatusOr<crm::load::AccessToken> token = AdminLogin(session.auth);
  if (!token.ok()) {
    return Fail(kRunFailed, std::string(token.status().message()));
  }
  session.token = token->token;
  session.admin_id = token->user_id;
  // The parts take about 1.5 min at the defaults; a token lasts 15.
  const absl::Duration needed =
      (unary.warmup + unary.duration) * 2 * unary.rounds + absl::Minutes(2);
  if (token->expires_at < absl::Now() + needed) {
    return Fail(kRunFailed, "the admin's access token would expire during the run");
  }

  nlohmann::json out = {{"tool", "crm-gateway-bench"}};
  std::string tables;
  bool failed = false;
  std::string failure;
  if (all || part == "unary") {
    absl::StatusOr<gb::UnaryReport> r = gb::RunUnary(session, unary);
    if (!r.ok()) {
      return Fail(kRunFailed, absl::StrCat("unary: ", r.status().message()));
    }
    out["unary"] = gb::UnaryJson(*r);
    tables += gb::FormatUnary(*r);
    const double max_errors = absl::GetFlag(FLAGS_max_error_ratio);
    for (const auto& [side, s] :
         {std::pair{"direct", r->direct}, std::pair{"gateway", r->gateway}}) {
      if (s.calls == 0 || s.error_ratio() > max_errors) {
        failed = true;
        failure = absl::StrCat("unary, ", side, ": ", s.errors, " errors of ", s.calls,
                               " calls (above --max_error_ratio)");
      }
    }
  }
  if (all || part == "first_message") {
    if (!tables.empty()) {
      tables += "\n";
    }
    absl::StatusOr<gb::FirstMessageReport> r = gb::RunFirstMessage(session, first);
    if (!r.ok()) {
      return Fail(kRunFailed, absl::StrCat("first_message: ", r.status().message()));
    }
    out["first_message"] = gb::FirstMessageJson(*r);
    tables += gb::FormatFirstMessage(*r);
    if (r->both == 0) {
      failed = true;
      failure = "first_message: no notification arrived on both streams";
    }
  }
  if (all || part == "streams") {
    if (!tables.empty()) {
      tables += "\n";
    }
    absl::StatusOr<gb::StreamsReport> r = gb::RunStreams(session, streams);
    if (!r.ok()) {
      return Fail(kRunFailed, absl::StrCat("streams: ", r.status().message()));
    }
    out["streams"] = gb::StreamsJson(*r);
    tables += gb::FormatStreams(*r);
    if (r->delivered != r->streams || r->counts.ended > 0) {
      failed = true;
      failure = absl::StrCat("streams: the notification reached ", r->delivered, " of ", r->streams,
                             " streams; ", r->counts.ended, " streams ended");
    }
  }

  // One part alone prints that part's object; all of them, one object each.
  const nlohmann::json json = all ? out
                                  : out[part == "unary"           ? "unary"
                                        : part == "first_message" ? "first_message"
                                                                  : "streams"];
  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    std::ofstream file(path);
    file << json.dump() << "\n";
    if (!file) {
      return Fail(kRunFailed, absl::StrCat("cannot write ", path));
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    printf("%s\n", json.dump().c_str());
  } else {
    printf("%s", tables.c_str());
  }
  fflush(stdout);
  return failed ? Fail(kRunFailed, failure) : 0;
}
