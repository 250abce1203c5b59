#include "services/leads/lead_repository.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/db/row_fields.h"
#include "common/db/sql_array.h"
#include "common/db/versioned_rows.h"
#include "common/db/where_clause.h"
#include "common/idempotency/request_results.h"
#include "common/outbox/details_json.h"
#include "common/outbox/outbox.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"

namespace crm::leads {
namespace {

using json = nlohmann::json;

constexpr char kRoundRobin[] = "round_robin";

const std::string& LeadColumns() {
  static const std::string* const columns = new std::string(absl::StrCat(
      "id, name, coalesce(contact_info, '') AS contact_info, status, "
      "coalesce(assigned_to, 0) AS assigned_to, email, coalesce(email_key, '') AS email_key, "
      "phone, coalesce(phone_e164, '') AS phone_e164, source, "
      "coalesce(external_id, '') AS external_id, notes, coalesce(property_id, 0) AS property_id, "
      "coalesce(property_mls_id, '') AS property_mls_id, version, ",
      timestamp::MicrosColumn("created_at"), ", ", timestamp::MicrosColumn("updated_at"), ", ",
      timestamp::MicrosColumn("assigned_at"),
      ", coalesce(routing_rule, '') AS routing_rule, coalesce(routed_to, 0) AS routed_to, "
      "coalesce(routing_reason, '') AS routing_reason, "
      "coalesce(array_to_string(routing_candidates, ','), '') AS routing_candidates, ",
      timestamp::MicrosColumn("routed_at")));
  return *columns;
}

LeadRecord ParseLead(const db::RowFields& f) {
  LeadRecord lead;
  lead.id = f.Int64("id");
  lead.name = f.Str("name");
  lead.contact_info = f.Str("contact_info");
  lead.status = f.Str("status");
  lead.assigned_to = f.Int64("assigned_to");
  lead.email = f.Str("email");
  lead.email_key = f.Str("email_key");
  lead.phone = f.Str("phone");
  lead.phone_e164 = f.Str("phone_e164");
  lead.source = f.Str("source");
  lead.external_id = f.Str("external_id");
  lead.notes = f.Str("notes");
  lead.property_id = f.Int64("property_id");
  lead.property_mls_id = f.Str("property_mls_id");
  lead.version = f.Int64("version");
  lead.created_at = timestamp::FromMicros(f.Int64("created_at"));
  lead.updated_at = timestamp::FromMicros(f.Int64("updated_at"));
  lead.assigned_at = timestamp::FromMicros(f.OptionalInt64("assigned_at"));
  lead.routing.rule = f.Str("routing_rule");
  lead.routing.agent_id = f.Int64("routed_to");
  lead.routing.reason = f.Str("routing_reason");
  for (absl::string_view id :
       absl::StrSplit(f.Text("routing_candidates"), ',', absl::SkipEmpty())) {
    int64_t value = 0;
    if (absl::SimpleAtoi(id, &value)) {
      lead.routing.candidates.push_back(value);
    }
  }
  lead.routing.time = timestamp::FromMicros(f.OptionalInt64("routed_at"));
  return lead;
}

LeadRecord ToLead(const pqxx::row& row) { return ParseLead(db::RowFields(row)); }

std::vector<LeadRecord> ParseLeads(const pqxx::result& result) {
  return db::ParseRows(result, ParseLead);
}

// A page of ListLeads: the page's ids first, from the filter's (…, id) index
// alone (an index-only scan that stops after `limit` entries), then their
// rows, so a filter matching few of the newest leads does not walk the
// table. `conditions` ends with the keyset bound and is followed by the
// limit; `order` is the page's (and the keyset's) order.
constexpr absl::string_view kById = "id DESC";
constexpr absl::string_view kByCreated = "created_at DESC, id DESC";
std::string ListSql(absl::string_view conditions, absl::string_view limit,
                    absl::string_view order = kById) {
  return absl::StrCat("SELECT ", LeadColumns(),
                      " FROM leads WHERE id IN (SELECT id FROM leads WHERE deleted_at IS NULL",
                      conditions, " ORDER BY ", order, " LIMIT ", limit, ") ORDER BY ", order);
}

json RoutingJson(const Routing& routing) {
  return {{"rule", routing.rule},
          {"agent_id", routing.agent_id},
          {"reason", routing.reason},
          {"candidates", routing.candidates}};
}

constexpr outbox::EntityActivities kActivities("leads", "lead");

absl::Status NotFound() { return absl::NotFoundError("lead not found"); }

absl::Status VersionMismatch() {
  return absl::AbortedError(
      "lead was changed by someone else (version mismatch); reload and retry");
}

// Serialises every change that could create or match a lead with these keys,
// so two captures of one person cannot both create it. Locks are taken in
// one order (sorted), so they cannot deadlock.
void LockKeys(pqxx::transaction_base& tx, const std::string& source, const std::string& external_id,
              const std::string& email_key, const std::string& phone_e164) {
  std::vector<std::string> keys;
  if (!external_id.empty()) {
    keys.push_back(absl::StrCat("x/", source, "/", external_id));
  }
  if (!email_key.empty()) {
    keys.push_back(absl::StrCat("e/", email_key));
  }
  if (!phone_e164.empty()) {
    keys.push_back(absl::StrCat("p/", phone_e164));
  }
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    tx.exec_prepared("leads_key_lock", key);
  }
}

std::optional<LeadRecord> FirstLead(const pqxx::result& rows) {
  if (rows.empty()) {
    return std::nullopt;
  }
  return ToLead(rows[0]);
}

// The live lead sharing a key, by the capture rules' order.
std::optional<std::pair<LeadRecord, Match>> FindMatch(pqxx::transaction_base& tx,
                                                      const std::string& source,
                                                      const std::string& external_id,
                                                      const std::string& email_key,
                                                      const std::string& phone_e164) {
  if (!external_id.empty()) {
    if (auto lead = FirstLead(tx.exec_prepared("leads_by_external_id", source, external_id))) {
      return std::make_pair(*std::move(lead), Match::kExternalId);
    }
  }
  if (!email_key.empty()) {
    if (auto lead = FirstLead(tx.exec_prepared("leads_by_email_key", email_key))) {
      return std::make_pair(*std::move(lead), Match::kEmail);
    }
  }
  if (!phone_e164.empty()) {
    if (auto lead = FirstLead(tx.exec_prepared("leads_by_phone", phone_e164))) {
      return std::make_pair(*std::move(lead), Match::kPhone);
    }
  }
  return std::nullopt;
}

LeadRecord Insert(pqxx::transaction_base& tx, const NewLead& lead) {
  const Routing& routing = lead.routing;
  return ToLead(tx.exec_prepared1(
      "leads_insert", lead.contact.name, lead.contact.contact_info, lead.status, lead.assigned_to,
      lead.contact.email, lead.contact.email_key, lead.contact.phone, lead.contact.phone_e164,
      lead.source, lead.external_id, lead.notes, lead.property_id, routing.rule, routing.agent_id,
      routing.reason, db::ArrayLiteral(routing.candidates), lead.property_mls_id));
}

// Writes every field of `lead` (the caller changed some).
LeadRecord Write(pqxx::transaction_base& tx, const LeadRecord& lead) {
  return ToLead(tx.exec_prepared1("leads_update", lead.id, lead.name, lead.contact_info,
                                  lead.status, lead.email, lead.email_key, lead.phone,
                                  lead.phone_e164, lead.source, lead.external_id, lead.notes,
                                  lead.property_id, lead.property_mls_id));
}

// Changes lock the lead, check access, then its version; replays read it.
constexpr db::VersionedRows<LeadRecord> kLeads{.get = "leads_get",
                                               .get_for_update = "leads_get_for_update",
                                               .parse = ParseLead,
                                               .not_found = NotFound,
                                               .stale = VersionMismatch};

// Round robin: the next active agent after the one who got the last lead
// (by id, wrapping), the cursor row locked so concurrent captures take turns.
Routing RouteRoundRobin(pqxx::transaction_base& tx, const RoutingPool& pool) {
  Routing routing{.rule = kRoundRobin, .candidates = pool.agents};
  if (pool.agents.empty()) {
    routing.reason = pool.empty_reason.empty() ? "no active agent" : pool.empty_reason;
    return routing;
  }
  const int64_t last =
      tx.exec_prepared1("routing_cursor_lock", kRoundRobin)["last_agent_id"].as<int64_t>();
  auto next = std::upper_bound(pool.agents.begin(), pool.agents.end(), last);
  const bool wrapped = next == pool.agents.end();
  routing.agent_id = wrapped ? pool.agents.front() : *next;
  tx.exec_prepared("routing_cursor_set", kRoundRobin, routing.agent_id);
  routing.reason = absl::StrCat(
      "next of ", pool.agents.size(), " active agents in rotation",
      last == 0 ? " (first lead routed)"
                : absl::StrCat(" after agent ", last, wrapped ? ", wrapping to the first" : ""));
  return routing;
}

std::string AppendMessage(const std::string& notes, const std::string& message) {
  if (message.empty() || absl::StrContains(notes, message)) {
    return notes;
  }
  return notes.empty() ? message : absl::StrCat(notes, "\n\n", message);
}

// Fills the lead's empty fields from the capture; returns which changed.
std::vector<std::string> Merge(const CaptureInput& capture, LeadRecord& lead) {
  std::vector<std::string> filled;
  auto fill = [&filled](std::string& field, const std::string& value, const char* name) {
    if (field.empty() && !value.empty()) {
      field = value;
      filled.push_back(name);
    }
  };
  fill(lead.name, capture.contact.name, "name");
  if (lead.email.empty() && !capture.contact.email.empty()) {
    lead.email = capture.contact.email;
    lead.email_key = capture.contact.email_key;
    filled.push_back("email");
  }
  if (lead.phone.empty() && !capture.contact.phone.empty()) {
    lead.phone = capture.contact.phone;
    lead.phone_e164 = capture.contact.phone_e164;
    filled.push_back("phone");
  }
  fill(lead.contact_info, capture.contact.contact_info, "contact_info");
  // The source's id belongs to the source's own leads.
  if (lead.source == capture.source) {
    fill(lead.external_id, capture.external_id, "external_id");
  }
  if (lead.property_id == 0 && capture.property_id != 0) {
    lead.property_id = capture.property_id;
    filled.push_back("property_id");
  }
  fill(lead.property_mls_id, capture.property_mls_id, "property_mls_id");
  const std::string notes = AppendMessage(lead.notes, capture.message);
  if (notes != lead.notes) {
    lead.notes = notes;
    filled.push_back("notes");
  }
  return filled;
}

// When the source received the inquiry, as RFC 3339 (now when it did not say).
std::string ReceivedText(const CaptureInput& capture) {
  return timestamp::SqlText(capture.received_at.value_or(absl::Now()));
}

json LeadSummary(const LeadRecord& lead) {
  return {{"name", lead.name},
          {"source", lead.source},
          {"status", lead.status},
          {"assigned_to", lead.assigned_to}};
}

}  // namespace

std::string MatchName(Match match) {
  switch (match) {
    case Match::kExternalId:
      return "external_id";
    case Match::kEmail:
      return "email";
    case Match::kPhone:
      return "phone";
    case Match::kNone:
      break;
  }
  return "";
}

std::vector<db::PreparedStatement> LeadRepository::Statements() {
  const std::string& columns = LeadColumns();
  std::vector<db::PreparedStatement> statements;
  for (db::PreparedStatement& statement : std::vector<db::PreparedStatement>{
           {"leads_get",
            absl::StrCat("SELECT ", columns, " FROM leads WHERE id = $1 AND deleted_at IS NULL")},
           {"leads_get_for_update", absl::StrCat("SELECT ", columns,
                                                 " FROM leads WHERE id = $1 AND deleted_at IS NULL "
                                                 "FOR UPDATE")},
           {"leads_deleted_at", absl::StrCat("SELECT ", timestamp::MicrosColumn("deleted_at"),
                                             " FROM leads WHERE id = $1")},
           // Two-key advisory locks have a key space of their own; the first key
           // marks lead contact keys.
           {"leads_key_lock", "SELECT pg_advisory_xact_lock(1279607108, hashtext($1::text))"},
           {"leads_by_external_id",
            absl::StrCat(
                "SELECT ", columns,
                " FROM leads WHERE source = $1 AND external_id = $2 AND deleted_at IS NULL")},
           {"leads_by_email_key",
            absl::StrCat(
                "SELECT ", columns,
                " FROM leads WHERE email_key = $1 AND deleted_at IS NULL ORDER BY id LIMIT 1")},
           {"leads_by_phone",
            absl::StrCat(
                "SELECT ", columns,
                " FROM leads WHERE phone_e164 = $1 AND deleted_at IS NULL ORDER BY id LIMIT 1")},
           {"leads_insert",
            absl::StrCat(
                "INSERT INTO leads (name, contact_info, status, assigned_to, email, email_key, "
                "phone, "
                "phone_e164, source, external_id, notes, property_id, assigned_at, routing_rule, "
                "routed_to, routing_reason, routing_candidates, routed_at, property_mls_id) VALUES "
                "($1, "
                "nullif($2, ''), "
                "$3, nullif($4::int8, 0), $5, nullif($6, ''), $7, nullif($8, ''), $9, "
                "nullif($10, ''), $11, nullif($12::int8, 0), "
                "CASE WHEN $4::int8 <> 0 THEN now() END, nullif($13, ''), nullif($14::int8, 0), "
                "nullif($15, ''), nullif($16::int8[], '{}'), CASE WHEN $13 <> '' THEN now() END, "
                "nullif($17, '')) "
                "RETURNING ",
                columns)},
           {"leads_update",
            absl::StrCat(
                "UPDATE leads SET name = $2, contact_info = nullif($3, ''), status = $4, "
                "email = $5, email_key = nullif($6, ''), phone = $7, "
                "phone_e164 = nullif($8, ''), source = $9, external_id = nullif($10, ''), "
                "notes = $11, property_id = nullif($12::int8, 0), "
                "property_mls_id = nullif($13, ''), version = version + 1, updated_at = now() "
                "WHERE id = $1 RETURNING ",
                columns)},
           {"leads_assign",
            absl::StrCat("UPDATE leads SET assigned_to = nullif($2::int8, 0), "
                         "assigned_at = CASE WHEN $2::int8 <> 0 THEN now() END, routing_rule = $3, "
                         "routed_to = nullif($2::int8, 0), routing_reason = $4, "
                         "routing_candidates = nullif($5::int8[], '{}'), routed_at = now(), "
                         "version = version + 1, updated_at = now() WHERE id = $1 RETURNING ",
                         columns)},
           {"leads_delete",
            absl::StrCat("UPDATE leads SET deleted_at = now(), version = version + 1, "
                         "updated_at = now() WHERE id = $1 RETURNING ",
                         timestamp::MicrosColumn("deleted_at"))},
           {"routing_cursor_lock",
            "SELECT last_agent_id FROM routing_cursors WHERE rule = $1 FOR UPDATE"},
           {"routing_cursor_set",
            "UPDATE routing_cursors SET last_agent_id = $2, updated_at = now() WHERE rule = $1"},
       }) {
    statements.push_back(std::move(statement));
  }
  return statements;
}

absl::StatusOr<CreateResult> LeadRepository::Create(const NewLead& lead, int64_t actor_id,
                                                    const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<CreateResult> {
    if (auto done = idempotency::Begin(tx, actor_id, "CreateLead", request_id)) {
      absl::StatusOr<LeadRecord> first = kLeads.Read(tx, done->resource_id);
      if (!first.ok()) {
        return first.status();
      }
      return CreateResult{.lead = *std::move(first)};
    }
    LockKeys(tx, lead.source, lead.external_id, lead.contact.email_key, lead.contact.phone_e164);
    if (auto match = FindMatch(tx, lead.source, lead.external_id, lead.contact.email_key,
                               lead.contact.phone_e164)) {
      return CreateResult{.duplicate = Duplicate{.lead_id = match->first.id,
                                                 .assigned_to = match->first.assigned_to,
                                                 .field = MatchName(match->second)}};
    }
    LeadRecord created = Insert(tx, lead);
    json details = LeadSummary(created);
    if (absl::Status s = kActivities.Record(tx, actor_id, "lead.created", created.id, details);
        !s.ok()) {
      return s;
    }
    if (created.assigned_to != 0) {
      if (absl::Status s = kActivities.Record(tx, actor_id, "lead.assigned", created.id,
                                              {{"agent_id", created.assigned_to},
                                               {"previous_agent_id", 0},
                                               {"name", created.name},
                                               {"source", created.source},
                                               {"routing", RoutingJson(created.routing)}});
          !s.ok()) {
        return s;
      }
    }
    idempotency::Remember(tx, actor_id, "CreateLead", request_id, {.resource_id = created.id});
    return CreateResult{.lead = std::move(created)};
  });
}

absl::StatusOr<CaptureResult> LeadRepository::Capture(const CaptureInput& capture, int64_t actor_id,
                                                      const std::string& request_id,
                                                      const RoutingPool& pool) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<CaptureResult> {
    if (auto done = idempotency::Begin(tx, actor_id, "CaptureLead", request_id)) {
      absl::StatusOr<LeadRecord> first = kLeads.Read(tx, done->resource_id);
      if (!first.ok()) {
        return first.status();
      }
      CaptureResult result{.lead = *std::move(first), .created = done->outcome == "created"};
      for (Match m : {Match::kExternalId, Match::kEmail, Match::kPhone}) {
        if (done->outcome == absl::StrCat("merged:", MatchName(m))) {
          result.match = m;
        }
      }
      return result;
    }
    LockKeys(tx, capture.source, capture.external_id, capture.contact.email_key,
             capture.contact.phone_e164);
    CaptureResult result;
    if (auto match = FindMatch(tx, capture.source, capture.external_id, capture.contact.email_key,
                               capture.contact.phone_e164)) {
      result.lead = std::move(match->first);
      result.match = match->second;
      const std::vector<std::string> filled = Merge(capture, result.lead);
      if (!filled.empty()) {
        result.lead = Write(tx, result.lead);
        if (absl::Status s = kActivities.Record(tx, actor_id, "lead.inquiry", result.lead.id,
                                                {{"source", capture.source},
                                                 {"external_id", capture.external_id},
                                                 {"match", MatchName(result.match)},
                                                 {"message", capture.message},
                                                 {"received_time", ReceivedText(capture)},
                                                 {"filled", filled},
                                                 {"name", result.lead.name},
                                                 {"assigned_to", result.lead.assigned_to}});
            !s.ok()) {
          return s;
        }
      }
      idempotency::Remember(tx, actor_id, "CaptureLead", request_id,
                            {.resource_id = result.lead.id,
                             .outcome = absl::StrCat("merged:", MatchName(result.match))});
      return result;
    }
    if (capture.contact.name.empty()) {
      return InvalidArgumentError("name", "is required when the capture matches no existing lead");
    }
    NewLead lead{.contact = capture.contact,
                 .source = capture.source,
                 .external_id = capture.external_id,
                 .notes = capture.message,
                 .property_id = capture.property_id,
                 .property_mls_id = capture.property_mls_id};
    lead.routing = RouteRoundRobin(tx, pool);
    lead.assigned_to = lead.routing.agent_id;
    result.lead = Insert(tx, lead);
    result.created = true;
    json details = LeadSummary(result.lead);
    details["external_id"] = capture.external_id;
    details["message"] = capture.message;
    details["received_time"] = ReceivedText(capture);
    details["routing"] = RoutingJson(result.lead.routing);
    if (absl::Status s = kActivities.Record(tx, actor_id, "lead.captured", result.lead.id, details);
        !s.ok()) {
      return s;
    }
    if (result.lead.assigned_to != 0) {
      if (absl::Status s = kActivities.Record(tx, actor_id, "lead.assigned", result.lead.id,
                                              {{"agent_id", result.lead.assigned_to},
                                               {"previous_agent_id", 0},
                                               {"name", result.lead.name},
                                               {"source", result.lead.source},
                                               {"message", capture.message},
                                               {"routing", RoutingJson(result.lead.routing)}});
          !s.ok()) {
        return s;
      }
    }
    idempotency::Remember(tx, actor_id, "CaptureLead", request_id,
                          {.resource_id = result.lead.id, .outcome = "created"});
    return result;
  });
}

absl::StatusOr<LeadRecord> LeadRepository::Get(int64_t id) {
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) { return kLeads.Read(tx, id); });
}

void LeadRepository::GetAsync(int64_t id,
                              absl::AnyInvocable<void(absl::StatusOr<db::Rows>) &&> done) {
  reader_->Read("leads_get", {absl::StrCat(id)}, std::move(done));
}

namespace {

// The statement of the page serving `query` (the lists every screen asks
// for: the newest; the pond; one agent's, status or source), its parameters
// as text; none when the query combines filters (or searches text, or a
// time range). The reader prepares each text once per connection.
//
// Each of these pages has one plan whatever the values, and carries its size
// in the text rather than as a parameter: PostgreSQL costs a generic plan
// with a parameterised LIMIT as fetching a tenth of the matches, so it would
// plan such a page afresh on every call (as long as running it); with the
// number in the text its plan cache settles on the page's one plan after
// five calls (a text per page size; clients use a few). The newest page
// reads the primary key's last entries, the pond its partial index on id
// (the one index whose predicate is the pond's and whose order is the
// page's). One agent's, status or source page bounds its `(column, id)`
// index with a row comparison, `(column, id) < ($2, $1) AND (column, id) >
// ($2, 0)`, ordered by both: written as `column = $2`, the planner would
// drop the constant column from the order and, not knowing the value, cost
// a walk of the primary key as cheap (fast for the agent with most leads, a
// table walk for a rare one); the row comparison is an index condition only
// that index can serve in that order, so for any value the one plan reads
// the page's entries of it and no more (ids count from 1: 0 is below every
// lead's).
struct PageSql {
  std::string sql;
  std::vector<std::string> params;
};

std::optional<PageSql> PageFor(const ListQuery& query) {
  const int filters = (query.unassigned_only || query.assigned_to != 0 ? 1 : 0) +
                      (query.status.empty() ? 0 : 1) + (query.source.empty() ? 0 : 1);
  if (filters > 1 || !query.text.empty() || query.created_from.has_value() ||
      query.created_until.has_value()) {
    return std::nullopt;
  }
  const std::string limit = absl::StrCat(std::max(1, query.limit));
  std::vector<std::string> params = {
      absl::StrCat(query.before_id.value_or(std::numeric_limits<int64_t>::max()))};
  if (filters == 0 || query.unassigned_only) {
    return PageSql{absl::StrCat("SELECT ", LeadColumns(), " FROM leads WHERE deleted_at IS NULL",
                                query.unassigned_only ? " AND assigned_to IS NULL" : "",
                                " AND id < $1::int8 ORDER BY id DESC LIMIT ", limit),
                   std::move(params)};
  }
  absl::string_view column;
  absl::string_view type;
  if (query.assigned_to != 0) {
    column = "assigned_to";
    type = "int8";
    params.push_back(absl::StrCat(query.assigned_to));
  } else if (!query.status.empty()) {
    column = "status";
    type = "text";
    params.push_back(query.status);
  } else {
    column = "source";
    type = "text";
    params.push_back(query.source);
  }
  // Qualified: the select list names coalesced columns like the table's.
  const std::string key = absl::StrCat("(leads.", column, ", leads.id)");
  return PageSql{absl::StrCat("SELECT ", LeadColumns(), " FROM leads WHERE deleted_at IS NULL AND ",
                              key, " < ($2::", type, ", $1::int8) AND ", key, " > ($2::", type,
                              ", 0) ORDER BY leads.", column, " DESC, leads.id DESC LIMIT ", limit),
                 std::move(params)};
}

}  // namespace

bool LeadRepository::ListAsync(const ListQuery& query,
                               absl::AnyInvocable<void(absl::StatusOr<db::Rows>) &&> done) {
  std::optional<PageSql> page = PageFor(query);
  if (reader_ == nullptr || !page.has_value()) {
    return false;
  }
  std::vector<std::optional<std::string>> params(page->params.begin(), page->params.end());
  reader_->ReadSql(std::move(page->sql), std::move(params), std::move(done));
  return true;
}

absl::StatusOr<std::vector<LeadRecord>> LeadRepository::List(const ListQuery& query) {
  const int limit = std::max(1, query.limit);
  const int64_t before = query.before_id.value_or(std::numeric_limits<int64_t>::max());
  if (std::optional<PageSql> page = PageFor(query)) {
    return db::ReadFor(
        *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<LeadRecord>> {
          return ParseLeads(
              tx.exec_params(page->sql, pqxx::prepare::make_dynamic_params(page->params)));
        });
  }
  db::WhereClause where;
  // A created-time range reads idx_leads_created_at, in its order: ordered by
  // id, the planner would walk the primary key from the newest lead to the
  // range, not knowing that created_at rises with id.
  if (query.ByCreated()) {
    if (query.before_created.has_value()) {
      where.Add({"(created_at, id) < (", "::timestamptz, ", "::int8)"},
                {timestamp::SqlText(*query.before_created), absl::StrCat(before)});
    }
  } else {
    where.Add("id < ", absl::StrCat(before), "::int8");
  }
  if (!query.status.empty()) {
    where.Add("status = ", query.status, "::text");
  }
  if (query.unassigned_only) {
    where.AddSql("assigned_to IS NULL");
  } else if (query.assigned_to != 0) {
    where.Add("assigned_to = ", absl::StrCat(query.assigned_to), "::int8");
  }
  if (!query.source.empty()) {
    where.Add("source = ", query.source, "::text");
  }
  if (!query.text.empty()) {
    where.Add("search_text LIKE ", db::ContainsPattern(query.text), "::text");
  }
  if (query.created_from.has_value()) {
    where.Add("created_at >= ", timestamp::SqlText(*query.created_from), "::timestamptz");
  }
  if (query.created_until.has_value()) {
    where.Add("created_at < ", timestamp::SqlText(*query.created_until), "::timestamptz");
  }
  // WhereClause starts its text with " WHERE"; here it follows the
  // deleted_at condition.
  const std::string sql = ListSql(absl::StrCat(" AND", absl::StripPrefix(where.sql(), " WHERE")),
                                  absl::StrCat(limit), query.ByCreated() ? kByCreated : kById);
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<LeadRecord>> {
        return ParseLeads(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(where.params())));
      });
}

absl::StatusOr<LeadRecord> LeadRepository::Update(int64_t id, const LeadChanges& changes,
                                                  int64_t expected_version, int64_t actor_id,
                                                  const std::string& request_id, Allow allow) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<LeadRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "UpdateLead", request_id)) {
      return kLeads.Read(tx, done->resource_id);
    }
    absl::StatusOr<LeadRecord> current = kLeads.Lock(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    LeadRecord next = *current;
    json diff = json::object();
    auto change = [&diff](std::string& field, const std::optional<std::string>& value,
                          const char* name) {
      if (value.has_value() && *value != field) {
        diff[name] = {{"old", field}, {"new", *value}};
        field = *value;
      }
    };
    change(next.name, changes.name, "name");
    change(next.email, changes.email, "email");
    change(next.phone, changes.phone, "phone");
    change(next.contact_info, changes.contact_info, "contact_info");
    change(next.source, changes.source, "source");
    change(next.status, changes.status, "status");
    change(next.notes, changes.notes, "notes");
    change(next.external_id, changes.external_id, "external_id");
    if (changes.email_key.has_value()) {
      next.email_key = *changes.email_key;
    }
    if (changes.phone_e164.has_value()) {
      next.phone_e164 = *changes.phone_e164;
    }
    if (changes.property_id.has_value() && *changes.property_id != next.property_id) {
      diff["property_id"] = {{"old", next.property_id}, {"new", *changes.property_id}};
      next.property_id = *changes.property_id;
    }
    if (diff.empty()) {
      idempotency::Remember(tx, actor_id, "UpdateLead", request_id, {.resource_id = id});
      return *current;  // nothing to change: nothing written, no activity
    }
    // A change must not make the lead a duplicate of another live one. The
    // refusal names no other lead: this caller may not be allowed to see it.
    const bool external_changed =
        !next.external_id.empty() &&
        (next.external_id != current->external_id || next.source != current->source);
    const bool email_changed = !next.email_key.empty() && next.email_key != current->email_key;
    const bool phone_changed = !next.phone_e164.empty() && next.phone_e164 != current->phone_e164;
    if (external_changed || email_changed || phone_changed) {
      LockKeys(tx, next.source, external_changed ? next.external_id : "",
               email_changed ? next.email_key : "", phone_changed ? next.phone_e164 : "");
      if (auto match =
              FindMatch(tx, next.source, external_changed ? next.external_id : "",
                        email_changed ? next.email_key : "", phone_changed ? next.phone_e164 : "");
          match.has_value() && match->first.id != id) {
        const std::string field = MatchName(match->second);
        return absl::AlreadyExistsError(absl::StrCat(
            "another lead has this ", field == "external_id" ? "source and external_id" : field));
      }
    }
    LeadRecord updated = Write(tx, next);
    if (absl::Status s =
            kActivities.Record(tx, actor_id, "lead.updated", id,
                               {{"changes", diff}, {"assigned_to", updated.assigned_to}});
        !s.ok()) {
      return s;
    }
    if (diff.contains("status")) {
      if (absl::Status s = kActivities.Record(tx, actor_id, "lead.status_changed", id,
                                              {{"old", current->status},
                                               {"new", updated.status},
                                               {"name", updated.name},
                                               {"assigned_to", updated.assigned_to}});
          !s.ok()) {
        return s;
      }
    }
    idempotency::Remember(tx, actor_id, "UpdateLead", request_id, {.resource_id = id});
    return updated;
  });
}

absl::StatusOr<LeadRecord> LeadRepository::Assign(int64_t id, int64_t agent_id,
                                                  const Routing& routing, int64_t expected_version,
                                                  int64_t actor_id, const std::string& request_id,
                                                  Allow allow) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<LeadRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "AssignLead", request_id)) {
      return kLeads.Read(tx, done->resource_id);
    }
    absl::StatusOr<LeadRecord> current = kLeads.Lock(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    if (current->assigned_to == agent_id) {
      idempotency::Remember(tx, actor_id, "AssignLead", request_id, {.resource_id = id});
      return *current;
    }
    LeadRecord updated =
        ToLead(tx.exec_prepared1("leads_assign", id, agent_id, routing.rule, routing.reason,
                                 db::ArrayLiteral(routing.candidates)));
    if (absl::Status s = kActivities.Record(tx, actor_id,
                                            agent_id == 0 ? "lead.unassigned" : "lead.assigned", id,
                                            {{"agent_id", agent_id},
                                             {"previous_agent_id", current->assigned_to},
                                             {"name", updated.name},
                                             {"source", updated.source},
                                             {"routing", RoutingJson(updated.routing)}});
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "AssignLead", request_id, {.resource_id = id});
    return updated;
  });
}

absl::StatusOr<LeadRecord> LeadRepository::Claim(int64_t id, int64_t agent_id,
                                                 const std::string& request_id, Allow allow) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<LeadRecord> {
    if (auto done = idempotency::Begin(tx, agent_id, "ClaimLead", request_id)) {
      return kLeads.Read(tx, done->resource_id);
    }
    // The row lock makes two claims take turns: the second sees the first's
    // agent and is refused.
    absl::StatusOr<LeadRecord> current = kLeads.Lock(tx, id, 0, allow);
    if (!current.ok()) {
      return current.status();
    }
    if (current->assigned_to == agent_id) {
      return *current;
    }
    if (current->assigned_to != 0) {
      return absl::FailedPreconditionError("lead is already assigned (claimed by someone else)");
    }
    LeadRecord updated = ToLead(tx.exec_prepared1("leads_assign", id, agent_id, "claim",
                                                  "claimed from the pool of unassigned leads",
                                                  db::ArrayLiteral(std::vector<int64_t>{})));
    if (absl::Status s = kActivities.Record(tx, agent_id, "lead.claimed", id,
                                            {{"agent_id", agent_id},
                                             {"name", updated.name},
                                             {"source", updated.source},
                                             {"routing", RoutingJson(updated.routing)}});
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, agent_id, "ClaimLead", request_id, {.resource_id = id});
    return updated;
  });
}

absl::StatusOr<absl::Time> LeadRepository::Delete(int64_t id, int64_t expected_version,
                                                  int64_t actor_id, const std::string& request_id,
                                                  Allow allow) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<absl::Time> {
    if (auto done = idempotency::Begin(tx, actor_id, "DeleteLead", request_id)) {
      pqxx::result row = tx.exec_prepared("leads_deleted_at", done->resource_id);
      if (row.empty() || row[0]["deleted_at"].is_null()) {
        return NotFound();
      }
      return timestamp::FromMicros(row[0]["deleted_at"].as<int64_t>());
    }
    absl::StatusOr<LeadRecord> current = kLeads.Lock(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    const absl::Time deleted_at =
        timestamp::FromMicros(tx.exec_prepared1("leads_delete", id)["deleted_at"].as<int64_t>());
    if (absl::Status s =
            kActivities.Record(tx, actor_id, "lead.deleted", id, LeadSummary(*current));
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "DeleteLead", request_id, {.resource_id = id});
    return deleted_at;
  });
}

}  // namespace crm::leads
