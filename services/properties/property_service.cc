#include "services/properties/property_service.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/db/row_fields.h"
#include "common/db/where_clause.h"
#include "common/fields/text_checks.h"
#include "common/pagination/keyset_page.h"
#include "common/server/raw_message.h"
#include "common/service/row_answers.h"
#include "common/service/run_authenticated.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/properties/import_reactor.h"
#include "services/properties/property_fields.h"
#include "services/properties/property_proto.h"

namespace crm::properties {
namespace {

using auth::Caller;
using auth::Role;

absl::Status NotFound() { return absl::NotFoundError("listing not found"); }

// Changes to a listing: ADMIN any; AGENT its own (an agent sees every
// listing, so a refusal reveals nothing).
absl::Status MayChange(const Caller& caller, const PropertyRecord& listing) {
  if (caller.Is(Role::kAdmin) || (caller.Is(Role::kAgent) && listing.agent_id == caller.user_id)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("agents change and delete only their own listings");
}

// A CLIENT sees listings on the market only; everyone else every listing.
bool MaySee(const Caller& caller, absl::string_view status) {
  return !caller.Is(Role::kClient) || ClientMaySee(status);
}

std::string Trimmed(const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); }

Order OrderOf(v1::PropertyOrder order) {
  switch (order) {
    case v1::PROPERTY_ORDER_PRICE_ASCENDING:
      return Order::kPriceAscending;
    case v1::PROPERTY_ORDER_PRICE_DESCENDING:
      return Order::kPriceDescending;
    case v1::PROPERTY_ORDER_RECENTLY_CHANGED:
      return Order::kRecentlyChanged;
    default:
      return Order::kNewest;
  }
}

absl::Status CheckPriceBound(int64_t cents, absl::string_view field) {
  if (cents < 0 || cents > kMaxPriceCents) {
    return InvalidArgumentError(field,
                                absl::StrCat("must be between 0 and ", kMaxPriceCents, " cents"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckListingAgent(users::UserDirectory& directory, int64_t agent_id,
                               absl::string_view field) {
  if (agent_id < 0) {
    return InvalidArgumentError(field, "must be a user id, or 0 for none");
  }
  absl::StatusOr<users::DirectoryUser> agent = directory.Get(agent_id);
  if (agent.status().code() == absl::StatusCode::kNotFound ||
      (agent.ok() &&
       ((agent->role != Role::kAgent && agent->role != Role::kAdmin) || !agent->active))) {
    return InvalidArgumentError(field, "must be an active agent or admin");
  }
  return agent.status();
}

grpc::ServerUnaryReactor* PropertyServiceImpl::CreateProperty(
    grpc::CallbackServerContext* context, const v1::CreatePropertyRequest* request,
    v1::CreatePropertyResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoCreate(caller, *request, response); });
}

absl::Status PropertyServiceImpl::DoCreate(const Caller& caller,
                                           const v1::CreatePropertyRequest& request,
                                           v1::CreatePropertyResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent}); !s.ok()) {
    return s;
  }
  if (absl::Status s = fields::CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  absl::StatusOr<PropertyRecord> listing = FromProto(request.property(), "property");
  if (!listing.ok()) {
    return listing.status();
  }
  if (listing->status.empty()) {
    listing->status = "ACTIVE";
  }
  // Output only here: a new listing's status and price are as new as it.
  listing->status_change_timestamp.reset();
  listing->price_change_timestamp.reset();
  Normalize(*listing);
  if (absl::Status s = CheckListing(*listing, "property"); !s.ok()) {
    return s;
  }
  if (caller.Is(Role::kAgent)) {
    if (listing->agent_id != 0 && listing->agent_id != caller.user_id) {
      return absl::PermissionDeniedError(
          "agents create their own listings (property.agent_id 0 or self)");
    }
    listing->agent_id = caller.user_id;
  } else if (listing->agent_id != 0) {
    if (absl::Status s =
            CheckListingAgent(*deps_.directory, listing->agent_id, "property.agent_id");
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<PropertyRecord> created =
      deps_.listings->Create(*listing, caller.user_id, request.request_id());
  if (!created.ok()) {
    return created.status();
  }
  ToProto(*std::move(created), response->mutable_property());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PropertyServiceImpl::GetProperty(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request_bytes,
                                                           grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::GetPropertyRequest>();
  if (grpc::ServerUnaryReactor* refused =
          server::ParseOrRefuse(context, *request_bytes, request.get())) {
    return refused;
  }
  if (!deps_.listings->HasAsyncReads()) {
    return service::RunAuthenticated(
        context, *deps_.executor, *deps_.authenticator, [=, this](const Caller& caller) {
          if (absl::Status s = CheckGet(*request); !s.ok()) {
            return s;
          }
          return RespondGet(caller,
                            request->lookup_case() == v1::GetPropertyRequest::kId
                                ? deps_.listings->Get(request->id())
                                : deps_.listings->GetByMlsId(request->mls_id()),
                            response);
        });
  }
  // The read every listing page makes: no thread hop, the query pipelined.
  return service::RunAuthenticatedAsync(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller, service::UnaryFinisher finish) {
        if (absl::Status s = CheckGet(*request); !s.ok()) {
          finish(s);
          return;
        }
        auto respond = [caller, response, finish](absl::StatusOr<db::Rows> rows) {
          finish(service::AnswerRow(
              std::move(rows), PropertyRowEncoder(), v1::GetPropertyResponse::kPropertyFieldNumber,
              [&caller](const db::RowFields& listing) {
                return MaySee(caller, listing.Text("status"));
              },
              NotFound(), response));
        };
        if (request->lookup_case() == v1::GetPropertyRequest::kId) {
          deps_.listings->GetAsync(request->id(), std::move(respond));
        } else {
          deps_.listings->GetByMlsIdAsync(request->mls_id(), std::move(respond));
        }
      });
}

absl::Status PropertyServiceImpl::CheckGet(const v1::GetPropertyRequest& request) {
  switch (request.lookup_case()) {
    case v1::GetPropertyRequest::kId:
      if (request.id() <= 0) {
        return InvalidArgumentError("id", "must be a listing id");
      }
      return absl::OkStatus();
    case v1::GetPropertyRequest::kMlsId:
      return fields::CheckToken(request.mls_id(), "mls_id", true, kMaxMlsIdBytes);
    default:
      return InvalidArgumentError("lookup", "set id or mls_id");
  }
}

absl::Status PropertyServiceImpl::RespondGet(const Caller& caller,
                                             absl::StatusOr<PropertyRecord> listing,
                                             grpc::ByteBuffer* response) {
  if (!listing.ok()) {
    return listing.status();
  }
  if (!MaySee(caller, listing->status)) {
    return NotFound();
  }
  v1::GetPropertyResponse answer;
  ToProto(*std::move(listing), answer.mutable_property());
  server::SetResponse(answer, response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PropertyServiceImpl::ListProperties(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request_bytes,
                                                              grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::ListPropertiesRequest>();
  if (grpc::ServerUnaryReactor* refused =
          server::ParseOrRefuse(context, *request_bytes, request.get())) {
    return refused;
  }
  if (!deps_.listings->HasAsyncReads()) {
    return service::RunAuthenticated(
        context, *deps_.executor, *deps_.authenticator, [=, this](const Caller& caller) {
          absl::StatusOr<ListPlan> plan = PlanList(caller, *request);
          if (!plan.ok()) {
            return plan.status();
          }
          v1::ListPropertiesResponse page;
          if (!plan->nothing_matches) {
            if (absl::Status s = RespondList(*plan, deps_.listings->List(plan->query), &page);
                !s.ok()) {
              return s;
            }
          }
          server::SetResponse(page, response);
          return absl::OkStatus();
        });
  }
  // Every search runs on the pipelined reader, each filter shape a statement
  // the reader prepared once.
  return service::RunAuthenticatedAsync(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller, service::UnaryFinisher finish) {
        absl::StatusOr<ListPlan> plan = PlanList(caller, *request);
        if (!plan.ok()) {
          finish(plan.status());
          return;
        }
        if (plan->nothing_matches) {
          server::SetResponseBytes("", response);
          finish(absl::OkStatus());
          return;
        }
        auto shared = std::make_shared<ListPlan>(*std::move(plan));
        deps_.listings->ListAsync(
            shared->query, [shared, response, finish](absl::StatusOr<db::Rows> rows) {
              finish(service::AnswerPage(
                  std::move(rows), PropertyRowEncoder(), shared->page,
                  v1::ListPropertiesResponse::kPropertiesFieldNumber,
                  v1::ListPropertiesResponse::kNextPageTokenFieldNumber,
                  [order = shared->query.order](const db::RowFields& listing) {
                    return OrderKeys(listing, order);
                  },
                  response));
            });
      });
}

absl::Status PropertyServiceImpl::RespondList(const ListPlan& plan,
                                              absl::StatusOr<std::vector<PropertyRecord>> listings,
                                              v1::ListPropertiesResponse* response) {
  if (!listings.ok()) {
    return listings.status();
  }
  response->set_next_page_token(plan.page.Finish(
      *listings, response->mutable_properties(),
      [](PropertyRecord& listing, v1::Property* out) { ToProto(std::move(listing), out); },
      [order = plan.query.order](const PropertyRecord& listing) {
        return OrderKeys(listing, order);
      }));
  return absl::OkStatus();
}

absl::StatusOr<PropertyServiceImpl::ListPlan> PropertyServiceImpl::PlanList(
    const Caller& caller, const v1::ListPropertiesRequest& request) {
  ListQuery query;
  // `status` and `statuses` combine with AND, like every filter; a CLIENT's
  // are further limited to what it may see.
  std::set<std::string> statuses;
  bool status_filter = false;
  if (request.status() != v1::PROPERTY_STATUS_UNSPECIFIED) {
    const std::string name = StatusName(request.status());
    if (name.empty()) {
      return InvalidArgumentError("status", "must be a PropertyStatus value");
    }
    statuses = {name};
    status_filter = true;
  }
  if (request.statuses_size() > 0) {
    std::set<std::string> listed;
    for (int i = 0; i < request.statuses_size(); ++i) {
      const std::string name = StatusName(request.statuses(i));
      if (name.empty()) {
        return InvalidArgumentError(absl::StrCat("statuses[", i, "]"),
                                    "must be a PropertyStatus value other than UNSPECIFIED");
      }
      listed.insert(name);
    }
    if (status_filter) {
      std::set<std::string> both;
      std::set_intersection(statuses.begin(), statuses.end(), listed.begin(), listed.end(),
                            std::inserter(both, both.end()));
      statuses = std::move(both);
    } else {
      statuses = std::move(listed);
    }
    status_filter = true;
  }
  if (caller.Is(Role::kClient)) {
    const std::set<std::string> visible(ClientVisibleStatuses().begin(),
                                        ClientVisibleStatuses().end());
    if (!status_filter) {
      statuses = visible;
    } else {
      std::set<std::string> both;
      std::set_intersection(statuses.begin(), statuses.end(), visible.begin(), visible.end(),
                            std::inserter(both, both.end()));
      statuses = std::move(both);
    }
    status_filter = true;
  }
  query.statuses.assign(statuses.begin(), statuses.end());
  if (request.has_min_price_cents()) {
    if (absl::Status s = CheckPriceBound(request.min_price_cents(), "min_price_cents"); !s.ok()) {
      return s;
    }
    query.min_price_cents = request.min_price_cents();
  }
  if (request.has_max_price_cents()) {
    if (absl::Status s = CheckPriceBound(request.max_price_cents(), "max_price_cents"); !s.ok()) {
      return s;
    }
    query.max_price_cents = request.max_price_cents();
  }
  if (query.min_price_cents && query.max_price_cents &&
      *query.min_price_cents > *query.max_price_cents) {
    return InvalidArgumentError("max_price_cents", "must not be below min_price_cents");
  }
  if (request.agent_id() < 0) {
    return InvalidArgumentError("agent_id", "must be a user id, or 0 for any");
  }
  query.agent_id = request.agent_id();
  if (absl::Status s = fields::CheckLine(request.city(), "city", false, 100); !s.ok()) {
    return s;
  }
  query.city = absl::AsciiStrToLower(Trimmed(request.city()));
  if (absl::Status s = fields::CheckLine(request.postal_code(), "postal_code", false, 20);
      !s.ok()) {
    return s;
  }
  query.postal_code = Trimmed(request.postal_code());
  if (request.property_type() != v1::PROPERTY_TYPE_UNSPECIFIED) {
    query.property_type = TypeName(request.property_type());
    if (query.property_type.empty()) {
      return InvalidArgumentError("property_type", "must be a PropertyType value");
    }
  }
  if (request.min_bedrooms() < 0) {
    return InvalidArgumentError("min_bedrooms", "must not be negative");
  }
  query.min_bedrooms = request.min_bedrooms();
  if (!request.query().empty()) {
    if (absl::Status s = fields::CheckQuery(request.query(), "query"); !s.ok()) {
      return s;
    }
    // Words, each a prefix: what the full-text index can find.
    query.text = db::PrefixTsQuery(request.query());
    if (query.text.empty()) {
      return InvalidArgumentError("query", "must contain a word (letters or digits)");
    }
  }
  const int box_fields =
      (request.has_min_latitude() ? 1 : 0) + (request.has_max_latitude() ? 1 : 0) +
      (request.has_min_longitude() ? 1 : 0) + (request.has_max_longitude() ? 1 : 0);
  if (box_fields != 0) {
    if (box_fields != 4) {
      return InvalidArgumentError("min_latitude",
                                  "a bounding box needs all four of min/max latitude/longitude");
    }
    ListQuery::Box box{.min_latitude = request.min_latitude(),
                       .max_latitude = request.max_latitude(),
                       .min_longitude = request.min_longitude(),
                       .max_longitude = request.max_longitude()};
    for (auto [value, limit, field] : {std::tuple{box.min_latitude, 90.0, "min_latitude"},
                                       std::tuple{box.max_latitude, 90.0, "max_latitude"},
                                       std::tuple{box.min_longitude, 180.0, "min_longitude"},
                                       std::tuple{box.max_longitude, 180.0, "max_longitude"}}) {
      if (!std::isfinite(value) || std::fabs(value) > limit) {
        return InvalidArgumentError(field,
                                    absl::StrCat("must be between -", limit, " and ", limit));
      }
    }
    if (box.min_latitude > box.max_latitude) {
      return InvalidArgumentError("max_latitude", "must not be below min_latitude");
    }
    if (box.min_longitude > box.max_longitude) {
      return InvalidArgumentError("max_longitude",
                                  "must not be below min_longitude (a box across the "
                                  "antimeridian is two searches)");
    }
    query.box = box;
  }
  if (!v1::PropertyOrder_IsValid(request.order_by())) {
    return InvalidArgumentError("order_by", "must be a PropertyOrder value");
  }
  query.order = OrderOf(request.order_by());
  // The token is bound to the query as the caller's role made it.
  const std::string fingerprint = absl::StrCat(
      "properties|", absl::StrJoin(query.statuses, ","), "|", status_filter, "|",
      query.min_price_cents.value_or(-1), "|", query.max_price_cents.value_or(-1), "|",
      query.agent_id, "|", query.city, "|", query.postal_code, "|", query.property_type, "|",
      query.min_bedrooms, "|", query.text, "|",
      query.box ? absl::StrCat(query.box->min_latitude, ",", query.box->max_latitude, ",",
                               query.box->min_longitude, ",", query.box->max_longitude)
                : "",
      "|", static_cast<int>(query.order));
  absl::StatusOr<pagination::KeysetPage> page = pagination::KeysetPage::BeginKeys(
      *deps_.page_tokens, fingerprint, request.page_size(), request.page_token(),
      query.order == Order::kNewest ? 1 : 2);
  if (!page.ok()) {
    return page.status();
  }
  query.after = page->after_keys();
  query.limit = page->fetch_limit();
  // Filters that exclude each other: nothing matches, nothing is read.
  const bool nothing_matches = status_filter && query.statuses.empty();
  return ListPlan{
      .query = std::move(query), .page = *std::move(page), .nothing_matches = nothing_matches};
}

grpc::ServerUnaryReactor* PropertyServiceImpl::UpdateProperty(
    grpc::CallbackServerContext* context, const v1::UpdatePropertyRequest* request,
    v1::UpdatePropertyResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoUpdate(caller, *request, response); });
}

absl::Status PropertyServiceImpl::DoUpdate(const Caller& caller,
                                           const v1::UpdatePropertyRequest& request,
                                           v1::UpdatePropertyResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent}); !s.ok()) {
    return s;
  }
  if (request.property().id() <= 0) {
    return InvalidArgumentError("property.id", "must be a listing id");
  }
  if (request.version() < 0) {
    return InvalidArgumentError("version", "must be 0 (any) or a version");
  }
  if (absl::Status s = fields::CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  absl::StatusOr<PropertyRecord> proposed = FromProto(request.property(), "property");
  if (!proposed.ok()) {
    return proposed.status();
  }
  const std::set<std::string> unique_paths(request.update_mask().paths().begin(),
                                           request.update_mask().paths().end());
  const std::vector<std::string> paths(unique_paths.begin(), unique_paths.end());
  if (unique_paths.contains("status") && proposed->status.empty()) {
    return InvalidArgumentError("property.status",
                                "must be a PropertyStatus value other than UNSPECIFIED");
  }
  if (unique_paths.contains("agent_id") && caller.Is(Role::kAdmin) && proposed->agent_id != 0) {
    if (absl::Status s =
            CheckListingAgent(*deps_.directory, proposed->agent_id, "property.agent_id");
        !s.ok()) {
      return s;
    }
  }
  const bool agent = caller.Is(Role::kAgent);
  absl::StatusOr<PropertyRecord> updated = deps_.listings->Update(
      request.property().id(), request.version(), caller.user_id, request.request_id(),
      [&caller](const PropertyRecord& current) { return MayChange(caller, current); },
      [&](PropertyRecord& listing) -> absl::Status {
        const int64_t agent_before = listing.agent_id;
        if (absl::Status s = ApplyPaths(paths, *proposed, listing); !s.ok()) {
          return s;
        }
        if (agent && listing.agent_id != agent_before) {
          return absl::PermissionDeniedError("agents may not reassign a listing (agent_id)");
        }
        Normalize(listing);
        return CheckListing(listing, "property");
      });
  if (!updated.ok()) {
    return updated.status();
  }
  ToProto(*std::move(updated), response->mutable_property());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PropertyServiceImpl::DeleteProperty(
    grpc::CallbackServerContext* context, const v1::DeletePropertyRequest* request,
    v1::DeletePropertyResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoDelete(caller, *request, response); });
}

absl::Status PropertyServiceImpl::DoDelete(const Caller& caller,
                                           const v1::DeletePropertyRequest& request,
                                           v1::DeletePropertyResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent}); !s.ok()) {
    return s;
  }
  if (request.id() <= 0) {
    return InvalidArgumentError("id", "must be a listing id");
  }
  if (request.version() < 0) {
    return InvalidArgumentError("version", "must be 0 (any) or a version");
  }
  if (absl::Status s = fields::CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Time> deleted = deps_.listings->Delete(
      request.id(), request.version(), caller.user_id, request.request_id(),
      [&caller](const PropertyRecord& current) { return MayChange(caller, current); });
  if (!deleted.ok()) {
    return deleted.status();
  }
  timestamp::ToProto(*deleted, response->mutable_delete_time());
  return absl::OkStatus();
}

grpc::ServerReadReactor<v1::ImportPropertiesRequest>* PropertyServiceImpl::ImportProperties(
    grpc::CallbackServerContext* context, v1::ImportPropertiesResponse* response) {
  return new ImportReactor(context, response, deps_);
}

}  // namespace crm::properties
