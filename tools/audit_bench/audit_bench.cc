// crm-audit-bench: how fast the audit service ingests, against what the same
// PostgreSQL does with the same rows written directly, measured in one run so
// the answer is a ratio that holds on a noisy shared machine.
//
// It starts its own throwaway cluster and the real crm-auth and crm-audit
// binaries (loopback only), signs in as a SERVICE account, and sends --events
// activities over ONE RecordActivities stream in batches of --batch, keeping
// up to --window batches in flight. Then it inserts the same kind of rows into
// a copy of the activities table with multi-row INSERTs of the same size, one
// commit per batch. Reported: events/s and per-batch ack (or commit) latency
// p50/p99, and audit ÷ raw.
//
//   build/bin/crm-audit-bench --events=50000 --batch=100 --window=4

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth/ed25519_key.h"
#include "common/auth/service_credentials.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"

ABSL_FLAG(int32_t, events, 20000, "events to send (and rows to insert)");
ABSL_FLAG(int32_t, batch, 100, "events per RecordActivities message / per INSERT (1..500)");
ABSL_FLAG(int32_t, window, 4, "batches in flight on the stream");
ABSL_FLAG(int32_t, warmup, 1000, "events sent (and inserted) first, not measured");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");

namespace {

using crm::audit::v1::ActivityEvent;
using crm::audit::v1::RecordActivitiesRequest;
using crm::audit::v1::RecordActivitiesResponse;

struct Result {
  double events_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

Result Summarise(int events, absl::Duration elapsed, const std::vector<double>& latencies_ms) {
  return Result{.events_per_second = events / absl::ToDoubleSeconds(elapsed),
                .p50_ms = Percentile(latencies_ms, 0.50),
                .p99_ms = Percentile(latencies_ms, 0.99)};
}

std::string NewUuid(std::mt19937_64& rng) {
  std::string bytes(16, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(rng() & 0xff);
  }
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string hex = absl::BytesToHexString(bytes);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

// The rows both sides write: what a busy leads service would produce.
std::vector<ActivityEvent> MakeEvents(int n, std::mt19937_64& rng) {
  std::vector<ActivityEvent> events(n);
  const absl::Time now = absl::Now();
  for (int i = 0; i < n; ++i) {
    ActivityEvent& e = events[i];
    e.set_event_id(NewUuid(rng));
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(now));
    e.set_service("bench");
    e.set_user_id(1 + i % 50);
    e.set_action("lead.assigned");
    e.set_entity_type("lead");
    e.set_entity_id(i + 1);
    e.set_details_json(absl::StrCat(R"({"from_agent_id":0,"to_agent_id":42,"i":)", i, "}"));
  }
  return events;
}

// Sends `events` over one stream, `batch` per message, `window` in flight;
// the server answers each message once, in order, after its commit.
absl::StatusOr<Result> RunAudit(crm::audit::v1::AuditService::Stub& stub,
                                crm::auth::ServiceCredentials& credentials,
                                const std::vector<ActivityEvent>& events, int batch, int window) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  if (absl::Status s = credentials.Attach(context); !s.ok()) {
    return s;
  }
  auto stream = stub.RecordActivities(&context);
  const int batches = (static_cast<int>(events.size()) + batch - 1) / batch;

  absl::Mutex mu;
  std::deque<absl::Time> sent;  // send time of each unanswered batch, in order
  std::vector<double> latencies_ms;
  std::string error;
  const absl::Time start = absl::Now();
  std::thread reader([&] {
    RecordActivitiesResponse response;
    for (int b = 0; b < batches; ++b) {
      if (!stream->Read(&response)) {
        absl::MutexLock lock(&mu);
        error = "stream ended early";
        return;
      }
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&mu);
      latencies_ms.push_back(absl::ToDoubleMilliseconds(now - sent.front()));
      sent.pop_front();
      for (const auto& ack : response.acks()) {
        if (ack.status() != crm::audit::v1::ACK_STATUS_STORED && error.empty()) {
          error = absl::StrCat("event ", ack.event_id(), " not stored: ", ack.error());
        }
      }
    }
  });
  for (int b = 0; b < batches; ++b) {
    RecordActivitiesRequest request;
    for (int i = b * batch; i < std::min<int>((b + 1) * batch, events.size()); ++i) {
      *request.add_events() = events[i];
    }
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return static_cast<int>(sent.size()) < window || !error.empty();
      };
      mu.Await(absl::Condition(&room));
      if (!error.empty()) {
        break;
      }
      sent.push_back(absl::Now());
    }
    if (!stream->Write(request)) {
      break;
    }
  }
  reader.join();
  const absl::Duration elapsed = absl::Now() - start;
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!error.empty() || !status.ok()) {
    return absl::InternalError(error.empty() ? status.error_message() : error);
  }
  return Summarise(static_cast<int>(events.size()), elapsed, latencies_ms);
}

// The baseline: the same rows into a copy of audit's table, `batch` per
// multi-row INSERT, one commit each, on one connection (hashes are random
// bytes: computing them is part of what the service costs).
absl::StatusOr<Result> RunRaw(pqxx::connection& conn, const std::vector<ActivityEvent>& events,
                              int batch, std::mt19937_64& rng) {
  std::vector<double> latencies_ms;
  const absl::Time start = absl::Now();
  for (size_t first = 0; first < events.size(); first += batch) {
    const size_t last = std::min(events.size(), first + batch);
    std::vector<std::string> params;
    std::string values;
    for (size_t i = first; i < last; ++i) {
      const ActivityEvent& e = events[i];
      const size_t n = params.size();
      absl::StrAppend(
          &values, values.empty() ? "" : ", ",
          absl::StrFormat("($%d::uuid, $%d::bigint, $%d, to_timestamp($%d::bigint), "
                          "$%d, $%d, $%d::bigint, $%d, $%d::bytea, $%d::bytea)",
                          n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7, n + 8, n + 9, n + 10));
      std::string hash(32, '\0');
      for (char& c : hash) {
        c = static_cast<char>(rng() & 0xff);
      }
      const std::string hex = absl::StrCat("\\x", absl::BytesToHexString(hash));
      for (std::string p : {e.event_id(), absl::StrCat(e.user_id()), e.action(),
                            absl::StrCat(e.occurred_at().seconds()), e.service(), e.entity_type(),
                            absl::StrCat(e.entity_id()), e.details_json(), hex, hex}) {
        params.push_back(std::move(p));
      }
    }
    const absl::Time t0 = absl::Now();
    try {
      pqxx::work tx(conn);
      tx.exec_params(absl::StrCat("INSERT INTO activities (event_id, user_id, action, "
                                  "\"timestamp\", service, entity_type, entity_id, details_json, "
                                  "prev_hash, hash) VALUES ",
                                  values),
                     pqxx::prepare::make_dynamic_params(params));
      tx.commit();
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
    latencies_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  return Summarise(static_cast<int>(events.size()), absl::Now() - start, latencies_ms);
}

constexpr char kRawTable[] = R"sql(
CREATE TABLE activities (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      BIGINT      NOT NULL,
  action       TEXT        NOT NULL,
  "timestamp"  TIMESTAMPTZ NOT NULL,
  event_id     UUID        NOT NULL UNIQUE,
  service      TEXT        NOT NULL,
  entity_type  TEXT        NOT NULL,
  entity_id    BIGINT      NOT NULL,
  details_json TEXT        NOT NULL,
  details      JSONB       GENERATED ALWAYS AS (details_json::jsonb) STORED,
  prev_hash    BYTEA       NOT NULL,
  hash         BYTEA       NOT NULL,
  record_time  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON activities (user_id);
CREATE INDEX ON activities ("timestamp");
CREATE INDEX ON activities (user_id, id);
CREATE INDEX ON activities (entity_type, entity_id, id);
CREATE INDEX ON activities (action, id);
CREATE INDEX ON activities (service, id);
)sql";

bool WriteFile(const std::string& path, const std::string& content) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    return false;
  }
  const bool ok = fputs(content.c_str(), f) >= 0;
  return fclose(f) == 0 && ok;
}

int Fail(const std::string& what, const absl::Status& status) {
  fprintf(stderr, "crm-audit-bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_events);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int window = absl::GetFlag(FLAGS_window);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  if (n < 1 || batch < 1 || batch > 500 || window < 1 || warmup < 0) {
    fprintf(stderr, "crm-audit-bench: need --events ≥ 1, --batch 1..500, --window ≥ 1\n");
    return 2;
  }

  auto cluster = crm::testing::PgCluster::Create();
  if (!cluster.ok()) {
    return Fail("cluster", cluster.status());
  }
  absl::StatusOr<std::string> dsns[3];
  const char* names[3] = {"crm_auth", "crm_audit", "crm_bench"};
  for (int i = 0; i < 3; ++i) {
    dsns[i] = (*cluster)->CreateServiceDatabase(names[i]);
    if (!dsns[i].ok()) {
      return Fail(names[i], dsns[i].status());
    }
  }

  const std::string dir =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-audit-bench-", getpid());
  std::filesystem::create_directories(dir + "/accounts");
  const std::string secret = "bench-service-account-secret-0123456789";
  auto key = crm::auth::Ed25519PrivateKey::Generate();
  if (!key.ok() || !WriteFile(dir + "/accounts/bench.secret", secret) ||
      !WriteFile(dir + "/signing.pem", key->ToPem())) {
    std::filesystem::remove_all(dir);
    return Fail("secrets", absl::InternalError("cannot write " + dir));
  }

  int code = 0;
  {
    auto auth = crm::testing::ServiceProcess::Start(
        "auth", {"--dsn=" + *dsns[0], "--signing_key_files=" + dir + "/signing.pem",
                 "--service_accounts_dir=" + dir + "/accounts"});
    auto audit = auth.ok()
                     ? crm::testing::ServiceProcess::Start(
                           "audit", {"--dsn=" + *dsns[1], "--auth_address=" + (*auth)->address(),
                                     "--log_level=warning"})
                     : absl::StatusOr<std::unique_ptr<crm::testing::ServiceProcess>>(auth.status());
    if (!audit.ok()) {
      code = Fail("start auth and audit", audit.status());
    } else {
      crm::auth::ServiceCredentials credentials((*auth)->channel(),
                                                crm::auth::ServiceAccountEmail("bench"), secret);
      auto stub = crm::audit::v1::AuditService::NewStub((*audit)->channel());
      pqxx::connection raw(*dsns[2]);
      pqxx::nontransaction(raw).exec(kRawTable);
      std::mt19937_64 rng(std::random_device{}());

      // Warm-up: connections, prepared paths, caches, the first token.
      absl::StatusOr<Result> audit_result =
          RunAudit(*stub, credentials, MakeEvents(warmup, rng), batch, window);
      absl::StatusOr<Result> raw_result = RunRaw(raw, MakeEvents(warmup, rng), batch, rng);
      if (audit_result.ok() && raw_result.ok()) {
        audit_result = RunAudit(*stub, credentials, MakeEvents(n, rng), batch, window);
        raw_result = RunRaw(raw, MakeEvents(n, rng), batch, rng);
      }
      if (!audit_result.ok() || !raw_result.ok()) {
        code = Fail("run", !audit_result.ok() ? audit_result.status() : raw_result.status());
      } else if (absl::GetFlag(FLAGS_json)) {
        printf(
            "{\"events\":%d,\"batch\":%d,\"window\":%d,"
            "\"audit\":{\"events_per_second\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
            "\"raw\":{\"events_per_second\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
            "\"throughput_ratio\":%.3f,\"p50_ratio\":%.3f}\n",
            n, batch, window, audit_result->events_per_second, audit_result->p50_ms,
            audit_result->p99_ms, raw_result->events_per_second, raw_result->p50_ms,
            raw_result->p99_ms, audit_result->events_per_second / raw_result->events_per_second,
            audit_result->p50_ms / raw_result->p50_ms);
      } else {
        printf("%d events, %d per batch, %d batches in flight\n\n", n, batch, window);
        printf("  %-26s %12s %10s %10s\n", "", "events/s", "p50 ms", "p99 ms");
        for (const auto& [name, r] : {std::pair{"audit RecordActivities", *audit_result},
                                      std::pair{"raw batched INSERT", *raw_result}}) {
          printf("  %-26s %12.0f %10.2f %10.2f\n", name, r.events_per_second, r.p50_ms, r.p99_ms);
        }
        printf("\n  audit / raw: throughput %.2f×, p50 latency %.2f×\n",
               audit_result->events_per_second / raw_result->events_per_second,
               audit_result->p50_ms / raw_result->p50_ms);
      }
    }
  }  // the services stop (by pid) before the cluster goes
  std::filesystem::remove_all(dir);
  return code;
}
