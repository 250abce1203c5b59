#pragma once

// All SQL of the leads service, through named prepared statements on the
// service's pool (ListLeads' optional filters through a parameterised
// db::WhereClause). Every change writes its activity to the outbox in the
// same transaction, and records its request_id's result when given one.
// Who may do what is the caller's decision: mutators take an `allow` check
// they run on the row-locked lead before changing it. Nothing here knows
// gRPC; errors are absl::Status.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/pipelined_reader.h"
#include "common/db/pool.h"
#include "services/leads/lead_record.h"

namespace crm::leads {

struct NewLead {
  LeadContact contact = {};
  std::string source = "manual";
  std::string external_id = {};
  std::string status = "NEW";
  int64_t assigned_to = 0;
  std::string notes = {};
  int64_t property_id = 0;
  std::string property_mls_id = {};
  Routing routing = {};  // how assigned_to was chosen (rule "creator" or "manual")
};

// The live lead a new one would duplicate: enough for the caller to decide
// what the refusal may reveal.
struct Duplicate {
  int64_t lead_id = 0;
  int64_t assigned_to = 0;
  std::string field = {};  // "email", "phone" or "external_id"
};

struct CreateResult {
  std::optional<LeadRecord> lead = {};      // created (or the first attempt's, on a retry)
  std::optional<Duplicate> duplicate = {};  // set instead when refused
};

struct CaptureInput {
  LeadContact contact = {};
  std::string source = {};
  std::string external_id = {};
  std::string message = {};
  int64_t property_id = 0;
  std::string property_mls_id = {};
  std::optional<absl::Time> received_at = {};  // when the source got it; none: now
};

// Who a new lead may be routed to: the active agents (ids ascending), or,
// when there are none, why.
struct RoutingPool {
  std::vector<int64_t> agents = {};
  std::string empty_reason = {};
};

enum class Match { kNone, kExternalId, kEmail, kPhone };

struct CaptureResult {
  LeadRecord lead = {};
  bool created = false;
  Match match = Match::kNone;
};

struct ListQuery {
  std::string status = {};  // "" any
  int64_t assigned_to = 0;  // 0 any
  bool unassigned_only = false;
  std::string source = {};
  std::string text = {};  // lower-cased substring of name, email, phone, contact info, notes
  std::optional<absl::Time> created_from = {};   // inclusive
  std::optional<absl::Time> created_until = {};  // exclusive
  std::optional<int64_t> before_id = {};         // keyset: ids below this
  // With a created-time range the page is ordered by (created_at, id), both
  // descending, and the keyset is (before_created, before_id).
  std::optional<absl::Time> before_created = {};
  int limit = 51;

  bool ByCreated() const { return created_from.has_value() || created_until.has_value(); }
};

struct LeadChanges {
  std::optional<std::string> name = {};
  std::optional<std::string> email = {};
  std::optional<std::string> email_key = {};
  std::optional<std::string> phone = {};
  std::optional<std::string> phone_e164 = {};
  std::optional<std::string> contact_info = {};
  std::optional<std::string> source = {};
  std::optional<std::string> status = {};
  std::optional<std::string> notes = {};
  std::optional<std::string> external_id = {};
  std::optional<int64_t> property_id = {};
};

// Decides on the row-locked current lead whether the change may go ahead.
using Allow = absl::FunctionRef<absl::Status(const LeadRecord&)>;

class LeadRepository {
 public:
  // `reader` (optional) serves GetAsync.
  explicit LeadRepository(db::Pool* pool, db::PipelinedReader* reader = nullptr)
      : pool_(pool), reader_(reader) {}

  static std::vector<db::PreparedStatement> Statements();

  // Refused (result.duplicate) when a live lead has the same email key,
  // E.164 phone or (source, external_id).
  absl::StatusOr<CreateResult> Create(const NewLead& lead, int64_t actor_id,
                                      const std::string& request_id);

  // Merges into the lead matched by (source, external_id), then email key,
  // then E.164 phone; else creates one and routes it round-robin over
  // `pool`. Concurrent captures of the same person serialise on their keys.
  absl::StatusOr<CaptureResult> Capture(const CaptureInput& capture, int64_t actor_id,
                                        const std::string& request_id, const RoutingPool& pool);

  // A live lead; NOT_FOUND when there is none.
  absl::StatusOr<LeadRecord> Get(int64_t id);
  // Get without blocking, on the pipelined reader: `done` runs on the
  // reader's thread and must not block. Only when HasAsyncReads(). The row
  // as it comes (none: no such lead), like ListAsync's.
  bool HasAsyncReads() const { return reader_ != nullptr; }
  void GetAsync(int64_t id, absl::AnyInvocable<void(absl::StatusOr<db::Rows>) &&> done);
  // Newest first.
  absl::StatusOr<std::vector<LeadRecord>> List(const ListQuery& query);
  // List without blocking, on the pipelined reader, for the pages that are
  // prepared statements (one filter or none); false (and `done` not called)
  // for any other query, or without a reader. The page's rows as they come
  // (a lead's columns: LeadRecord's names, times in microseconds), for the
  // service to write straight into its answer (db::RowEncoder).
  bool ListAsync(const ListQuery& query,
                 absl::AnyInvocable<void(absl::StatusOr<db::Rows>) &&> done);

  // ABORTED when `expected_version` (if non-zero) is not the current one.
  absl::StatusOr<LeadRecord> Update(int64_t id, const LeadChanges& changes,
                                    int64_t expected_version, int64_t actor_id,
                                    const std::string& request_id, Allow allow);
  // Assigns to `agent_id` (0: unassigns), recording `routing` as the decision.
  absl::StatusOr<LeadRecord> Assign(int64_t id, int64_t agent_id, const Routing& routing,
                                    int64_t expected_version, int64_t actor_id,
                                    const std::string& request_id, Allow allow);
  // FAILED_PRECONDITION when someone else holds the lead; holding it
  // already changes nothing.
  absl::StatusOr<LeadRecord> Claim(int64_t id, int64_t agent_id, const std::string& request_id,
                                   Allow allow);
  // Soft delete; returns when it happened.
  absl::StatusOr<absl::Time> Delete(int64_t id, int64_t expected_version, int64_t actor_id,
                                    const std::string& request_id, Allow allow);

 private:
  db::Pool* const pool_;
  db::PipelinedReader* const reader_;
};

std::string MatchName(Match match);

}  // namespace crm::leads
