// crm-load: a closed-loop load generator for our services and their SQL.
//
//   --mode=grpc (default)  any unary method of our protos, requests from JSON
//   --mode=sql             a raw query, one connection per in-flight slot
//   --pair                 both, against the gRPC floor, in interleaved rounds
//
// The parts: method.h (finding the method), request_template.h (requests and
// {n}), grpc_load.h and sql_load.h (the two drivers), login.h (signing in),
// stats.h (exact percentiles), pair.h (rounds, medians, composed limit) and
// report.h (table or one JSON line). tools/README.md describes every flag.

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
#include "tools/common/tool_flags.h"
#include "tools/load/grpc_load.h"
#include "tools/load/login.h"
#include "tools/load/method.h"
#include "tools/load/pair.h"
#include "tools/load/repeated_flags.h"
#include "tools/load/report.h"
#include "tools/load/request_template.h"
#include "tools/load/sql_load.h"
#include "tools/load/stats.h"

ABSL_FLAG(std::string, mode, "grpc", "grpc (a unary method) or sql (a raw query)");
ABSL_FLAG(bool, pair, false,
          "pair mode: the method, its raw SQL and the gRPC floor (grpc.health.v1.Health/Check) in "
          "interleaved rounds, reporting medians, the composed limit and the ratio; needs the gRPC "
          "and the SQL flags");
ABSL_FLAG(int32_t, rounds, 3, "pair mode: rounds (at least 3)");

ABSL_FLAG(std::string, target, "", "gRPC: host:port of the service");
ABSL_FLAG(std::string, method, "",
          "gRPC: the unary method, package.Service/Method (a leading slash is fine)");
ABSL_FLAG(std::string, data, "",
          "gRPC: a request as protobuf JSON, {n} filled per call; repeatable (requests are "
          "cycled). Default {} when no --data_file");
ABSL_FLAG(std::string, data_file, "", "gRPC: a file of requests, one protobuf JSON per line");
ABSL_FLAG(std::string, n, "counter",
          "what fills {n} (in --data and --param): counter[:START] (START, START+1, ... one per "
          "call; default start 1) or range:LO:HI (uniform, inclusive). Requests are serialised up "
          "front when at most 65536 distinct ones exist (no {n}, or a small range); otherwise "
          "(a counter, a large range) each call substitutes and parses its own, which costs the "
          "client a few µs per call");
ABSL_FLAG(std::string, metadata, "",
          "gRPC: 'key: value' sent with every call (key lower-cased); repeatable");
ABSL_FLAG(int32_t, deadline_ms, 5000, "gRPC: per-call deadline");
ABSL_FLAG(int32_t, concurrency, 16, "calls (or queries) in flight in total");
ABSL_FLAG(int32_t, channels, 2, "gRPC: HTTP/2 connections the calls are spread over");
ABSL_FLAG(int32_t, threads, 2, "gRPC: client threads, each with its own completion queue");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured window of each run");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "unmeasured load before each run's window");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "time to connect (and to sign in) before giving up");

ABSL_FLAG(std::string, tls_ca_file, "", "gRPC: PEM CA bundle; set for TLS (else plaintext)");
ABSL_FLAG(std::string, tls_client_cert_file, "", "gRPC: PEM client certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_client_key_file, "", "gRPC: its PEM private key");

ABSL_FLAG(std::string, login_email, "",
          "gRPC: sign in as this user first (AuthService/Login) and send "
          "'authorization: Bearer <access token>'; signs in again between runs when the token "
          "would expire");
ABSL_FLAG(std::string, login_password_file, "", "the file holding --login_email's password");
ABSL_FLAG(std::string, auth_address, "", "where to sign in (default: --target)");

ABSL_FLAG(std::string, dsn, "", "SQL: libpq connection string");
ABSL_FLAG(std::string, sql, "", "SQL: the statement, with $1, $2, ... for --param values");
ABSL_FLAG(std::string, param, "",
          "SQL: a text parameter ($1, then $2, ...), {n} filled per call; "
          "repeatable");

ABSL_FLAG(bool, json, false, "print exactly one JSON line on stdout instead of a table");
ABSL_FLAG(double, max_error_ratio, 0.01,
          "exit 1 (after printing) when more than this fraction of the calls of a run failed");

namespace {

using crm::load::Summary;

// Exit codes: 1 for a run that failed or measured mostly errors, 2 for
// anything wrong with the invocation (found before any load is sent).
constexpr int kRunFailed = 1;
constexpr int kUsage = 2;

int Fail(int code, const std::string& message) {
  fprintf(stderr, "crm-load: %s\n", message.c_str());
  return code;
}

// The gRPC side: method, requests, channels, sign-in.
struct GrpcSide {
  std::string method_path;
  std::unique_ptr<crm::load::RequestSet> requests;
  std::unique_ptr<crm::load::RequestSet> floor_requests;  // pair mode
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  crm::load::Metadata metadata;
  std::optional<crm::load::AccessToken> token;
  std::shared_ptr<grpc::Channel> auth_channel;
};

std::vector<std::string> Requests(const std::map<std::string, std::vector<std::string>>& repeated) {
  auto it = repeated.find("data");
  return it == repeated.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::vector<std::string>> repeated =
      crm::load::TakeRepeatedFlags(argc, argv, {"data", "metadata", "param"});
  if (absl::StatusOr<std::vector<char*>> parsed = crm::tools::ParseToolFlags(
          argc, argv,
          "a closed-loop load generator for gRPC unary methods and raw SQL.\n\n"
          "  crm-load --target=HOST:PORT --method=pkg.Service/Method --data='{\"id\":\"{n}\"}' "
          "--n=range:1:4\n"
          "  crm-load --mode=sql --dsn='host=... dbname=...' --sql='SELECT ... WHERE id = $1' "
          "--param='{n}'\n"
          "  crm-load --pair <both sets of flags> --rounds=3\n\n"
          "Closed loop: --concurrency calls in flight, each slot sending its next call when the "
          "previous completes; --warmup unmeasured, then --duration measured. --data, --metadata "
          "and --param may be repeated. See tools/README.md.",
          "tools/load/", /*allow_positional=*/false);
      !parsed.ok()) {
    return Fail(kUsage, std::string(parsed.status().message()));
  }

  const bool pair = absl::GetFlag(FLAGS_pair);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "grpc" && mode != "sql") {
    return Fail(kUsage, absl::StrCat("--mode='", mode, "': want grpc or sql"));
  }
  const bool use_grpc = pair || mode == "grpc";
  const bool use_sql = pair || mode == "sql";
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int channel_count = absl::GetFlag(FLAGS_channels);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  const absl::Duration connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  const double max_error_ratio = absl::GetFlag(FLAGS_max_error_ratio);
  if (concurrency < 1 || channel_count < 1 || threads < 1 || deadline <= absl::ZeroDuration() ||
      duration <= absl::ZeroDuration() || warmup < absl::ZeroDuration()) {
    return Fail(kUsage,
                "need --concurrency, --channels, --threads and --deadline_ms of at least 1, "
                "--duration > 0 and --warmup >= 0");
  }
  if (pair && rounds < 3) {
    return Fail(kUsage, "--rounds must be at least 3 (the figures are medians across rounds)");
  }
  absl::StatusOr<crm::load::NumberSpec> numbers =
      crm::load::ParseNumberSpec(absl::GetFlag(FLAGS_n));
  if (!numbers.ok()) {
    return Fail(kUsage, std::string(numbers.status().message()));
  }

  crm::load::RunInfo info;
  info.mode = pair ? "pair" : mode;
  info.concurrency = concurrency;
  // More channels or threads than calls in flight would sit idle.
  info.channels = std::min(channel_count, concurrency);
  info.threads = std::min(threads, concurrency);
  info.rounds = pair ? rounds : 0;
  info.warmup_s = absl::ToDoubleSeconds(warmup);
  info.duration_s = absl::ToDoubleSeconds(duration);

  // Everything that can be wrong with the invocation is found before any
  // connection is made.
  GrpcSide grpc_side;
  const std::string target = absl::GetFlag(FLAGS_target);
  if (use_grpc) {
    if (target.empty() || absl::GetFlag(FLAGS_method).empty()) {
      return Fail(kUsage, pair ? "--pair needs --target and --method (and --dsn and --sql)"
                               : "gRPC mode needs --target and --method (or --mode=sql)");
    }
    absl::StatusOr<const google::protobuf::MethodDescriptor*> method =
        crm::load::FindUnaryMethod(absl::GetFlag(FLAGS_method));
    if (!method.ok()) {
      return Fail(kUsage, std::string(method.status().message()));
    }
    grpc_side.method_path = crm::load::MethodPath(**method);
    std::vector<crm::load::RequestText> texts;
    const std::vector<std::string> data = Requests(repeated);
    for (size_t i = 0; i < data.size(); ++i) {
      texts.push_back({absl::StrCat("--data #", i + 1), data[i]});
    }
    if (const std::string file = absl::GetFlag(FLAGS_data_file); !file.empty()) {
      absl::StatusOr<std::vector<crm::load::RequestText>> lines = crm::load::ReadRequestFile(file);
      if (!lines.ok()) {
        return Fail(kUsage, std::string(lines.status().message()));
      }
      texts.insert(texts.end(), lines->begin(), lines->end());
    }
    if (texts.empty()) {
      texts.push_back({"(default)", "{}"});
    }
    absl::StatusOr<std::unique_ptr<crm::load::RequestSet>> requests =
        crm::load::RequestSet::Create((*method)->input_type(), std::move(texts), *numbers);
    if (!requests.ok()) {
      return Fail(kUsage, std::string(requests.status().message()));
    }
    grpc_side.requests = *std::move(requests);
    if (pair) {
      auto floor_method = crm::load::FindUnaryMethod("grpc.health.v1.Health/Check");
      auto floor = floor_method.ok() ? crm::load::RequestSet::Create((*floor_method)->input_type(),
                                                                     {{"floor", "{}"}}, {})
                                     : floor_method.status();
      if (!floor.ok()) {
        return Fail(kUsage, std::string(floor.status().message()));
      }
      grpc_side.floor_requests = *std::move(floor);
    }
    absl::StatusOr<crm::load::Metadata> metadata = crm::load::ParseMetadata(repeated["metadata"]);
    if (!metadata.ok()) {
      return Fail(kUsage, std::string(metadata.status().message()));
    }
    grpc_side.metadata = *std::move(metadata);
    if (!absl::GetFlag(FLAGS_login_email).empty()) {
      if (absl::GetFlag(FLAGS_login_password_file).empty()) {
        return Fail(kUsage, "--login_email needs --login_password_file");
      }
      for (const auto& [key, value] : grpc_side.metadata) {
        if (key == "authorization") {
          return Fail(kUsage, "give either --login_email or an authorization --metadata, not both");
        }
      }
    }
    const crm::client::ClientTlsOptions tls{.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                                            .cert_file = absl::GetFlag(FLAGS_tls_client_cert_file),
                                            .key_file = absl::GetFlag(FLAGS_tls_client_key_file)};
    if (tls.enabled() || !crm::client::ValidateClientTlsOptions(tls).ok()) {
      absl::StatusOr<grpc::SslCredentialsOptions> ssl = crm::client::LoadClientTls(tls);
      if (!ssl.ok()) {
        return Fail(kUsage, std::string(ssl.status().message()));
      }
      grpc_side.credentials = grpc::SslCredentials(*ssl);
    } else {
      grpc_side.credentials = grpc::InsecureChannelCredentials();
    }
    info.method = grpc_side.method_path;
    info.target = target;
    info.preserialised = grpc_side.requests->preserialised();
  }
  crm::load::SqlRunOptions sql_options{.dsn = absl::GetFlag(FLAGS_dsn),
                                       .sql = absl::GetFlag(FLAGS_sql),
                                       .params = repeated["param"],
                                       .numbers = *numbers,
                                       .concurrency = concurrency,
                                       .warmup = warmup,
                                       .duration = duration};
  if (use_sql && (sql_options.dsn.empty() || sql_options.sql.empty())) {
    return Fail(kUsage, pair ? "--pair needs --dsn and --sql (and --target and --method)"
                             : "--mode=sql needs --dsn and --sql");
  }
  info.sql = sql_options.sql;

  // Connecting and signing in.
  if (use_grpc) {
    grpc_side.channels = crm::load::MakeChannels(target, grpc_side.credentials, info.channels);
    if (absl::Status s = crm::load::WaitConnected(grpc_side.channels, target, connect_timeout);
        !s.ok()) {
      return Fail(kRunFailed, std::string(s.message()));
    }
    const std::string auth_address = absl::GetFlag(FLAGS_auth_address);
    grpc_side.auth_channel =
        auth_address.empty() || auth_address == target
            ? grpc_side.channels[0]
            : crm::load::MakeChannels(auth_address, grpc_side.credentials, 1)[0];
  }
  const std::string login_email = absl::GetFlag(FLAGS_login_email);
  // Signs in when there is no token yet or it would expire during the next
  // run; false (after saying why) if that fails.
  const auto ensure_token = [&]() -> bool {
    if (login_email.empty()) {
      return true;
    }
    const absl::Duration needed = warmup + duration + deadline + absl::Seconds(30);
    if (grpc_side.token && grpc_side.token->expires_at > absl::Now() + needed) {
      return true;
    }
    absl::StatusOr<crm::load::AccessToken> token =
        crm::load::Login(grpc_side.auth_channel, login_email,
                         absl::GetFlag(FLAGS_login_password_file), connect_timeout);
    if (!token.ok()) {
      fprintf(stderr, "crm-load: %s\n", std::string(token.status().message()).c_str());
      return false;
    }
    if (token->expires_at < absl::Now() + needed) {
      fprintf(stderr,
              "crm-load: warning: the access token expires in %s, before the run ends: later "
              "calls will fail UNAUTHENTICATED (shorten --duration)\n",
              absl::FormatDuration(absl::Trunc(token->expires_at - absl::Now(), absl::Seconds(1)))
                  .c_str());
    }
    std::erase_if(grpc_side.metadata, [](const auto& kv) { return kv.first == "authorization"; });
    grpc_side.metadata.emplace_back("authorization", "Bearer " + token->token);
    grpc_side.token = *std::move(token);
    return true;
  };

  const auto grpc_run = [&](const crm::load::RequestSet* requests,
                            const std::string& method_path) -> absl::StatusOr<Summary> {
    if (!ensure_token()) {
      return absl::UnauthenticatedError("sign-in failed");
    }
    return crm::load::RunGrpc(grpc_side.channels, {.method_path = method_path,
                                                   .requests = requests,
                                                   .metadata = grpc_side.metadata,
                                                   .concurrency = concurrency,
                                                   .threads = threads,
                                                   .deadline = deadline,
                                                   .warmup = warmup,
                                                   .duration = duration});
  };
  const bool json = absl::GetFlag(FLAGS_json);

  if (!pair) {
    absl::StatusOr<Summary> summary =
        use_grpc ? grpc_run(grpc_side.requests.get(), grpc_side.method_path)
                 : crm::load::RunSql(sql_options);
    if (!summary.ok()) {
      return Fail(
          summary.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kRunFailed,
          std::string(summary.status().message()));
    }
    if (json) {
      printf("%s\n", crm::load::RunJson(info, *summary).dump().c_str());
    } else {
      printf("%s", crm::load::FormatRun(info, *summary).c_str());
    }
    fflush(stdout);
    return crm::load::CheckErrors(use_grpc ? grpc_side.method_path : "raw SQL", *summary,
                                  max_error_ratio)
               ? 0
               : kRunFailed;
  }

  absl::StatusOr<crm::load::PairResult> result = crm::load::RunPair(
      rounds, [&] { return grpc_run(grpc_side.requests.get(), grpc_side.method_path); },
      [&] { return crm::load::RunSql(sql_options); },
      [&] { return grpc_run(grpc_side.floor_requests.get(), "/grpc.health.v1.Health/Check"); },
      [&](int round, const crm::load::PairRound& r) {
        fprintf(stderr,
                "crm-load: round %d/%d: service %.0f calls/s (p50 %.0f µs), raw %.0f/s (%.0f µs), "
                "floor %.0f/s (%.0f µs)\n",
                round, rounds, r.service.rps, r.service.p50_us, r.raw.rps, r.raw.p50_us,
                r.floor.rps, r.floor.p50_us);
      });
  if (!result.ok()) {
    return Fail(result.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kRunFailed,
                std::string(result.status().message()));
  }
  if (json) {
    printf("%s\n", crm::load::PairJson(info, *result).dump().c_str());
  } else {
    printf("%s", crm::load::FormatPair(info, *result).c_str());
  }
  fflush(stdout);
  bool fine = true;
  for (const auto& [what, s] : {std::pair{"service " + grpc_side.method_path, &result->service},
                                std::pair{std::string("raw SQL"), &result->raw},
                                std::pair{std::string("gRPC floor"), &result->floor}}) {
    fine = crm::load::CheckErrors(what, *s, max_error_ratio) && fine;
  }
  return fine ? 0 : kRunFailed;
}
