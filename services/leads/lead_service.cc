#include "services/leads/lead_service.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/db/row_fields.h"
#include "common/fields/text_checks.h"
#include "common/log/log.h"
#include "common/pagination/keyset_page.h"
#include "common/server/raw_message.h"
#include "common/service/row_answers.h"
#include "common/service/run_authenticated.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/leads/lead_proto.h"

namespace crm::leads {
namespace {

using auth::Caller;
using auth::Role;

absl::Status NotFound() { return absl::NotFoundError("lead not found"); }

// A page's keyset: (created time in microseconds, id) under a created-time
// range, else the id.
std::vector<int64_t> PageKeys(bool by_created, int64_t id, int64_t created_micros) {
  return by_created ? std::vector<int64_t>{created_micros, id} : std::vector<int64_t>{id};
}

// Whether `caller` may see `lead` (GetLead, the duplicate refusal).
bool MaySee(const Caller& caller, int64_t assigned_to) {
  if (caller.Is(Role::kAdmin) || caller.Is(Role::kService)) {
    return true;
  }
  return caller.Is(Role::kAgent) && (assigned_to == 0 || assigned_to == caller.user_id);
}

// Changes to a lead: ADMIN any; AGENT its own. An agent sees unassigned
// leads but must claim one before working it.
absl::Status MayChange(const Caller& caller, const LeadRecord& lead) {
  if (caller.Is(Role::kAdmin)) {
    return absl::OkStatus();
  }
  if (!MaySee(caller, lead.assigned_to)) {
    return NotFound();
  }
  if (lead.assigned_to != caller.user_id) {
    return absl::PermissionDeniedError("claim the lead (ClaimLead) before changing it");
  }
  return absl::OkStatus();
}

std::string Trimmed(const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); }

}  // namespace

absl::StatusOr<LeadContact> LeadServiceImpl::Contact(absl::string_view prefix,
                                                     const std::string& name, bool name_required,
                                                     const std::string& email,
                                                     const std::string& phone,
                                                     const std::string& contact_info) {
  if (absl::Status s =
          fields::FirstError({CheckName(name, fields::FieldPath(prefix, "name"), name_required),
                              CheckEmail(email, fields::FieldPath(prefix, "email")),
                              CheckPhone(phone, fields::FieldPath(prefix, "phone")),
                              CheckText(contact_info, fields::FieldPath(prefix, "contact_info"),
                                        kMaxContactInfoBytes)});
      !s.ok()) {
    return s;
  }
  LeadContact contact{.name = Trimmed(name),
                      .email = Trimmed(email),
                      .phone = Trimmed(phone),
                      .contact_info = contact_info};
  contact.email_key = EmailKey(contact.email);
  contact.phone_e164 = deps_.phones->E164(contact.phone);
  return contact;
}

absl::Status LeadServiceImpl::CheckAgent(int64_t agent_id, absl::string_view field) {
  if (agent_id < 0) {
    return InvalidArgumentError(field, "must be a user id");
  }
  absl::StatusOr<users::DirectoryUser> agent = deps_.directory->Get(agent_id);
  if (agent.status().code() == absl::StatusCode::kNotFound ||
      (agent.ok() && (agent->role != Role::kAgent || !agent->active))) {
    return InvalidArgumentError(field, "must be an active agent");
  }
  return agent.status();
}

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLead(grpc::CallbackServerContext* context,
                                                      const v1::CreateLeadRequest* request,
                                                      v1::CreateLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoCreate(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoCreate(const Caller& caller, const v1::CreateLeadRequest& request,
                                       v1::CreateLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent}); !s.ok()) {
    return s;
  }
  const v1::Lead& in = request.lead();
  absl::StatusOr<LeadContact> contact =
      Contact("lead", in.name(), true, in.email(), in.phone(), in.contact_info());
  if (!contact.ok()) {
    return contact.status();
  }
  NewLead lead{.contact = *std::move(contact)};
  if (!in.source().empty()) {
    lead.source = in.source();
  }
  if (absl::Status s =
          fields::FirstError({CheckSource(lead.source, "lead.source"),
                              CheckExternalId(in.external_id(), "lead.external_id"),
                              CheckText(in.notes(), "lead.notes", kMaxNotesBytes),
                              CheckExternalId(in.property_mls_id(), "lead.property_mls_id"),
                              CheckRequestId(request.request_id(), "request_id")});
      !s.ok()) {
    return s;
  }
  if (in.property_id() < 0) {
    return InvalidArgumentError("lead.property_id", "must be a property id or 0");
  }
  lead.external_id = in.external_id();
  lead.notes = in.notes();
  lead.property_id = in.property_id();
  lead.property_mls_id = in.property_mls_id();
  if (in.status() != v1::LEAD_STATUS_UNSPECIFIED) {
    lead.status = StatusName(in.status());
    if (lead.status.empty()) {
      return InvalidArgumentError("lead.status", "must be a LeadStatus value");
    }
  }
  if (caller.Is(Role::kAgent)) {
    if (in.assigned_to() != 0 && in.assigned_to() != caller.user_id) {
      return InvalidArgumentError("lead.assigned_to", "an agent's new lead is its own: 0 or self");
    }
    lead.assigned_to = caller.user_id;
    lead.routing = {
        .rule = "creator", .agent_id = caller.user_id, .reason = "created by the agent"};
  } else if (in.assigned_to() != 0) {
    if (absl::Status s = CheckAgent(in.assigned_to(), "lead.assigned_to"); !s.ok()) {
      return s;
    }
    lead.assigned_to = in.assigned_to();
    lead.routing = {.rule = "manual",
                    .agent_id = in.assigned_to(),
                    .reason = absl::StrCat("assigned by admin ", caller.user_id, " on creation")};
  }
  absl::StatusOr<CreateResult> created =
      deps_.leads->Create(lead, caller.user_id, request.request_id());
  if (!created.ok()) {
    return created.status();
  }
  if (created->duplicate.has_value()) {
    const Duplicate& d = *created->duplicate;
    absl::Status refused = absl::AlreadyExistsError(absl::StrCat(
        "a lead with this ", d.field == "external_id" ? "source and external_id" : d.field,
        " already exists"));
    // The existing lead is named only to a caller who may see it; anyone
    // else learns that the person is a lead already, and nothing more.
    if (MaySee(caller, d.assigned_to)) {
      refused = WithResourceInfo(refused, "crm.leads.v1.Lead", absl::StrCat("leads/", d.lead_id),
                                 absl::StrCat("same ", d.field));
    }
    return refused;
  }
  log::Info("lead created").Int("lead_id", created->lead->id).Int("by", caller.user_id);
  ToProto(*created->lead, response->mutable_lead());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::CaptureLead(grpc::CallbackServerContext* context,
                                                       const v1::CaptureLeadRequest* request,
                                                       v1::CaptureLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoCapture(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoCapture(const Caller& caller, const v1::CaptureLeadRequest& request,
                                        v1::CaptureLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kService}); !s.ok()) {
    return s;
  }
  absl::StatusOr<LeadContact> contact =
      Contact("", request.name(), false, request.email(), request.phone(), request.contact_info());
  if (!contact.ok()) {
    return contact.status();
  }
  if (contact->email.empty() && contact->phone.empty()) {
    return InvalidArgumentError("email", "email or phone is required");
  }
  if (absl::Status s =
          fields::FirstError({CheckSource(request.source(), "source"),
                              CheckExternalId(request.external_id(), "external_id"),
                              CheckText(request.message(), "message", kMaxMessageBytes),
                              CheckExternalId(request.property_mls_id(), "property_mls_id"),
                              CheckRequestId(request.request_id(), "request_id")});
      !s.ok()) {
    return s;
  }
  if (request.property_id() < 0) {
    return InvalidArgumentError("property_id", "must be a property id or 0");
  }
  std::optional<absl::Time> received;
  if (request.has_received_time()) {
    absl::StatusOr<absl::Time> t = timestamp::FromProto(request.received_time(), "received_time");
    if (!t.ok()) {
      return t.status();
    }
    received = *t;
  }
  // Who may get a new lead, asked before the transaction (no lock is held
  // while auth answers). Auth down does not lose the lead: it waits in the
  // pond for an admin, the reason stored.
  RoutingPool pool;
  absl::StatusOr<std::vector<users::DirectoryUser>> agents =
      deps_.directory->ActiveUsers(Role::kAgent);
  if (agents.ok()) {
    for (const users::DirectoryUser& agent : *agents) {
      pool.agents.push_back(agent.id);
    }
    std::sort(pool.agents.begin(), pool.agents.end());
    pool.empty_reason = "no active agent";
  } else {
    log::Warning("routing without agents").Str("error", agents.status().ToString());
    pool.empty_reason = "the agent directory (auth) was unavailable; left for an admin to assign";
  }
  absl::StatusOr<CaptureResult> captured =
      deps_.leads->Capture(CaptureInput{.contact = *std::move(contact),
                                        .source = request.source(),
                                        .external_id = request.external_id(),
                                        .message = request.message(),
                                        .property_id = request.property_id(),
                                        .property_mls_id = request.property_mls_id(),
                                        .received_at = received},
                           caller.user_id, request.request_id(), pool);
  if (!captured.ok()) {
    return captured.status();
  }
  log::Info(captured->created ? "lead captured" : "lead capture merged")
      .Int("lead_id", captured->lead.id)
      .Str("source", request.source())
      .Int("assigned_to", captured->lead.assigned_to);
  ToProto(captured->lead, response->mutable_lead());
  response->set_outcome(captured->created ? v1::CAPTURE_OUTCOME_CREATED
                                          : v1::CAPTURE_OUTCOME_MERGED);
  switch (captured->match) {
    case Match::kExternalId:
      response->set_dedupe_match(v1::DEDUPE_MATCH_EXTERNAL_ID);
      break;
    case Match::kEmail:
      response->set_dedupe_match(v1::DEDUPE_MATCH_EMAIL);
      break;
    case Match::kPhone:
      response->set_dedupe_match(v1::DEDUPE_MATCH_PHONE);
      break;
    case Match::kNone:
      break;
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::GetLead(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request_bytes,
                                                   grpc::ByteBuffer* response) {
  v1::GetLeadRequest request;
  if (grpc::ServerUnaryReactor* refused =
          server::ParseOrRefuse(context, *request_bytes, &request)) {
    return refused;
  }
  if (!deps_.leads->HasAsyncReads()) {
    return service::RunAuthenticated(
        context, *deps_.executor, *deps_.authenticator, [=, this](const Caller& caller) {
          if (absl::Status s = CheckGet(caller, request); !s.ok()) {
            return s;
          }
          return RespondGet(caller, deps_.leads->Get(request.id()), response);
        });
  }
  // The read every screen makes: no thread hop, the query pipelined.
  return service::RunAuthenticatedAsync(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller, service::UnaryFinisher finish) {
        if (absl::Status s = CheckGet(caller, request); !s.ok()) {
          finish(s);
          return;
        }
        deps_.leads->GetAsync(
            request.id(), [caller, response, finish](absl::StatusOr<db::Rows> rows) {
              finish(service::AnswerRow(
                  std::move(rows), LeadRowEncoder(), v1::GetLeadResponse::kLeadFieldNumber,
                  [&caller](const db::RowFields& lead) {
                    return MaySee(caller, lead.Int64("assigned_to"));
                  },
                  NotFound(), response));
            });
      });
}

absl::Status LeadServiceImpl::CheckGet(const Caller& caller, const v1::GetLeadRequest& request) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent, Role::kService});
      !s.ok()) {
    return s;
  }
  if (request.id() <= 0) {
    return InvalidArgumentError("id", "must be a lead id");
  }
  return absl::OkStatus();
}

absl::Status LeadServiceImpl::RespondGet(const Caller& caller,
                                         const absl::StatusOr<LeadRecord>& lead,
                                         grpc::ByteBuffer* response) {
  if (!lead.ok()) {
    return lead.status();
  }
  if (!MaySee(caller, lead->assigned_to)) {
    return NotFound();
  }
  v1::GetLeadResponse answer;
  ToProto(*lead, answer.mutable_lead());
  server::SetResponse(answer, response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::ListLeads(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request_bytes,
                                                     grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::ListLeadsRequest>();
  if (grpc::ServerUnaryReactor* refused =
          server::ParseOrRefuse(context, *request_bytes, request.get())) {
    return refused;
  }
  if (!deps_.leads->HasAsyncReads()) {
    return service::RunAuthenticated(
        context, *deps_.executor, *deps_.authenticator, [=, this](const Caller& caller) {
          absl::StatusOr<ListPlan> plan = PlanList(caller, *request);
          if (!plan.ok()) {
            return plan.status();
          }
          return RespondList(*plan, deps_.leads->List(plan->query), response);
        });
  }
  // The pages every screen asks for are prepared statements the pipelined
  // reader runs with no thread hop; other filters go to the executor.
  return service::RunAuthenticatedAsync(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller, service::UnaryFinisher finish) {
        absl::StatusOr<ListPlan> plan = PlanList(caller, *request);
        if (!plan.ok()) {
          finish(plan.status());
          return;
        }
        auto shared = std::make_shared<ListPlan>(*std::move(plan));
        const bool async = deps_.leads->ListAsync(
            shared->query, [shared, response, finish](absl::StatusOr<db::Rows> rows) {
              finish(service::AnswerPage(
                  std::move(rows), LeadRowEncoder(), shared->page,
                  v1::ListLeadsResponse::kLeadsFieldNumber,
                  v1::ListLeadsResponse::kNextPageTokenFieldNumber,
                  [by_created = shared->query.ByCreated()](const db::RowFields& lead) {
                    return PageKeys(by_created, lead.Int64("id"), lead.Int64("created_at"));
                  },
                  response));
            });
        if (!async) {
          service::FinishBlocking(context, *deps_.executor, finish, [this, shared, response] {
            return RespondList(*shared, deps_.leads->List(shared->query), response);
          });
        }
      });
}

absl::Status LeadServiceImpl::RespondList(const ListPlan& plan,
                                          absl::StatusOr<std::vector<LeadRecord>> leads,
                                          grpc::ByteBuffer* response) {
  if (!leads.ok()) {
    return leads.status();
  }
  v1::ListLeadsResponse page;
  page.set_next_page_token(plan.page.Finish(
      *leads, page.mutable_leads(),
      [](LeadRecord& lead, v1::Lead* out) { ToProto(std::move(lead), out); },
      [by_created = plan.query.ByCreated()](const LeadRecord& lead) {
        return PageKeys(by_created, lead.id, timestamp::ToMicros(lead.created_at));
      }));
  server::SetResponse(page, response);
  return absl::OkStatus();
}

absl::StatusOr<LeadServiceImpl::ListPlan> LeadServiceImpl::PlanList(
    const Caller& caller, const v1::ListLeadsRequest& request) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent, Role::kService});
      !s.ok()) {
    return s;
  }
  ListQuery query;
  if (request.status() != v1::LEAD_STATUS_UNSPECIFIED) {
    query.status = StatusName(request.status());
    if (query.status.empty()) {
      return InvalidArgumentError("status", "must be a LeadStatus value");
    }
  }
  if (request.assigned_to() < 0) {
    return InvalidArgumentError("assigned_to", "must be a user id or 0");
  }
  if (request.unassigned_only() && request.assigned_to() != 0) {
    return InvalidArgumentError("assigned_to", "must be 0 with unassigned_only");
  }
  query.unassigned_only = request.unassigned_only();
  query.assigned_to = request.assigned_to();
  if (caller.Is(Role::kAgent) && !query.unassigned_only) {
    if (query.assigned_to != 0 && query.assigned_to != caller.user_id) {
      return absl::PermissionDeniedError(
          "agents list their own leads (assigned_to 0 or self) or the unassigned pool "
          "(unassigned_only)");
    }
    query.assigned_to = caller.user_id;
  }
  if (!request.source().empty()) {
    if (absl::Status s = CheckSource(request.source(), "source"); !s.ok()) {
      return s;
    }
    query.source = request.source();
  }
  if (!request.query().empty()) {
    if (absl::Status s = CheckQuery(request.query(), "query"); !s.ok()) {
      return s;
    }
    const std::string text = absl::AsciiStrToLower(Trimmed(request.query()));
    // Trigram search needs three characters to use its index.
    if (Utf8Length(text).value_or(0) < 3) {
      return InvalidArgumentError("query", "must be at least 3 characters");
    }
    query.text = text;
  }
  for (auto [has, ts, field, out] :
       {std::tuple{request.has_create_time_start(), &request.create_time_start(),
                   "create_time_start", &query.created_from},
        std::tuple{request.has_create_time_end(), &request.create_time_end(), "create_time_end",
                   &query.created_until}}) {
    if (has) {
      absl::StatusOr<absl::Time> t = timestamp::FromProto(*ts, field);
      if (!t.ok()) {
        return t.status();
      }
      *out = *t;
    }
  }
  // The token is bound to the query as the caller's role made it.
  const std::string fingerprint = absl::StrCat(
      "leads|", query.status, "|", query.assigned_to, "|", query.unassigned_only, "|", query.source,
      "|", query.text, "|", query.created_from ? timestamp::ToMicros(*query.created_from) : -1, "|",
      query.created_until ? timestamp::ToMicros(*query.created_until) : -1);
  // A created-time range pages by (create time, id); see ListQuery.
  absl::StatusOr<pagination::KeysetPage> page =
      pagination::KeysetPage::BeginKeys(*deps_.page_tokens, fingerprint, request.page_size(),
                                        request.page_token(), query.ByCreated() ? 2 : 1);
  if (!page.ok()) {
    return page.status();
  }
  if (const std::optional<std::vector<int64_t>>& after = page->after_keys()) {
    query.before_id = after->back();
    if (query.ByCreated()) {
      query.before_created = timestamp::FromMicros(after->front());
    }
  }
  query.limit = page->fetch_limit();
  return ListPlan{.query = std::move(query), .page = *std::move(page)};
}

grpc::ServerUnaryReactor* LeadServiceImpl::UpdateLead(grpc::CallbackServerContext* context,
                                                      const v1::UpdateLeadRequest* request,
                                                      v1::UpdateLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoUpdate(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoUpdate(const Caller& caller, const v1::UpdateLeadRequest& request,
                                       v1::UpdateLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent}); !s.ok()) {
    return s;
  }
  const v1::Lead& in = request.lead();
  if (in.id() <= 0) {
    return InvalidArgumentError("lead.id", "must be a lead id");
  }
  if (request.update_mask().paths_size() == 0) {
    return InvalidArgumentError("update_mask", "must name at least one field");
  }
  if (request.version() < 0) {
    return InvalidArgumentError("version", "must be 0 (any) or a version");
  }
  if (absl::Status s = CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  LeadChanges changes;
  for (const std::string& path : std::set<std::string>(request.update_mask().paths().begin(),
                                                       request.update_mask().paths().end())) {
    const std::string field = absl::StrCat("lead.", path);
    absl::Status valid;
    if (path == "name") {
      valid = CheckName(in.name(), field, true);
      changes.name = Trimmed(in.name());
    } else if (path == "email") {
      valid = CheckEmail(in.email(), field);
      changes.email = Trimmed(in.email());
      changes.email_key = EmailKey(*changes.email);
    } else if (path == "phone") {
      valid = CheckPhone(in.phone(), field);
      changes.phone = Trimmed(in.phone());
      changes.phone_e164 = deps_.phones->E164(*changes.phone);
    } else if (path == "contact_info") {
      valid = CheckText(in.contact_info(), field, kMaxContactInfoBytes);
      changes.contact_info = in.contact_info();
    } else if (path == "source") {
      valid = CheckSource(in.source(), field);
      changes.source = in.source();
    } else if (path == "status") {
      changes.status = StatusName(in.status());
      if (changes.status->empty()) {
        valid = InvalidArgumentError(field, "must be a LeadStatus value other than UNSPECIFIED");
      }
    } else if (path == "notes") {
      valid = CheckText(in.notes(), field, kMaxNotesBytes);
      changes.notes = in.notes();
    } else if (path == "external_id") {
      valid = CheckExternalId(in.external_id(), field);
      changes.external_id = in.external_id();
    } else if (path == "property_id") {
      valid = in.property_id() < 0 ? InvalidArgumentError(field, "must be a property id or 0")
                                   : absl::OkStatus();
      changes.property_id = in.property_id();
    } else if (path == "assigned_to") {
      valid = InvalidArgumentError("update_mask",
                                   "assigned_to changes through AssignLead or "
                                   "ClaimLead");
    } else {
      valid = InvalidArgumentError("update_mask",
                                   absl::StrCat("unknown or read-only field \"", path, "\""));
    }
    if (!valid.ok()) {
      return valid;
    }
  }
  absl::StatusOr<LeadRecord> updated =
      deps_.leads->Update(in.id(), changes, request.version(), caller.user_id, request.request_id(),
                          [&caller](const LeadRecord& lead) { return MayChange(caller, lead); });
  if (!updated.ok()) {
    return updated.status();
  }
  ToProto(*updated, response->mutable_lead());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::AssignLead(grpc::CallbackServerContext* context,
                                                      const v1::AssignLeadRequest* request,
                                                      v1::AssignLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoAssign(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoAssign(const Caller& caller, const v1::AssignLeadRequest& request,
                                       v1::AssignLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin}); !s.ok()) {
    return s;
  }
  if (request.lead_id() <= 0) {
    return InvalidArgumentError("lead_id", "must be a lead id");
  }
  if (request.version() < 0) {
    return InvalidArgumentError("version", "must be 0 (any) or a version");
  }
  if (absl::Status s = CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  if (request.agent_id() != 0) {
    if (absl::Status s = CheckAgent(request.agent_id(), "agent_id"); !s.ok()) {
      return s;
    }
  }
  const Routing routing{.rule = "manual",
                        .agent_id = request.agent_id(),
                        .reason = request.agent_id() == 0
                                      ? absl::StrCat("unassigned by admin ", caller.user_id)
                                      : absl::StrCat("assigned by admin ", caller.user_id)};
  absl::StatusOr<LeadRecord> assigned = deps_.leads->Assign(
      request.lead_id(), request.agent_id(), routing, request.version(), caller.user_id,
      request.request_id(), [](const LeadRecord&) { return absl::OkStatus(); });
  if (!assigned.ok()) {
    return assigned.status();
  }
  ToProto(*assigned, response->mutable_lead());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::ClaimLead(grpc::CallbackServerContext* context,
                                                     const v1::ClaimLeadRequest* request,
                                                     v1::ClaimLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoClaim(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoClaim(const Caller& caller, const v1::ClaimLeadRequest& request,
                                      v1::ClaimLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAgent}); !s.ok()) {
    return s;
  }
  if (request.lead_id() <= 0) {
    return InvalidArgumentError("lead_id", "must be a lead id");
  }
  if (absl::Status s = CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  // A lead someone else holds answers FAILED_PRECONDITION (the claim race's
  // loser must learn it lost), naming nobody.
  absl::StatusOr<LeadRecord> claimed =
      deps_.leads->Claim(request.lead_id(), caller.user_id, request.request_id(),
                         [](const LeadRecord&) { return absl::OkStatus(); });
  if (!claimed.ok()) {
    return claimed.status();
  }
  ToProto(*claimed, response->mutable_lead());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LeadServiceImpl::DeleteLead(grpc::CallbackServerContext* context,
                                                      const v1::DeleteLeadRequest* request,
                                                      v1::DeleteLeadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoDelete(caller, *request, response); });
}

absl::Status LeadServiceImpl::DoDelete(const Caller& caller, const v1::DeleteLeadRequest& request,
                                       v1::DeleteLeadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin}); !s.ok()) {
    return s;
  }
  if (request.id() <= 0) {
    return InvalidArgumentError("id", "must be a lead id");
  }
  if (request.version() < 0) {
    return InvalidArgumentError("version", "must be 0 (any) or a version");
  }
  if (absl::Status s = CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Time> deleted =
      deps_.leads->Delete(request.id(), request.version(), caller.user_id, request.request_id(),
                          [](const LeadRecord&) { return absl::OkStatus(); });
  if (!deleted.ok()) {
    return deleted.status();
  }
  timestamp::ToProto(*deleted, response->mutable_delete_time());
  return absl::OkStatus();
}

}  // namespace crm::leads
