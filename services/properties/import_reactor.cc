#include "services/properties/import_reactor.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fields/text_checks.h"
#include "common/log/log.h"
#include "common/outbox/details_json.h"
#include "common/status/grpc_status.h"
#include "nlohmann/json.hpp"
#include "services/properties/property_fields.h"
#include "services/properties/property_proto.h"

namespace crm::properties {
namespace {

constexpr int kMaxRowsPerMessage = 1000;
constexpr int kMaxErrors = 100;

}  // namespace

ImportReactor::ImportReactor(grpc::CallbackServerContext* context,
                             v1::ImportPropertiesResponse* response,
                             const PropertyServiceDeps& deps)
    : context_(context), response_(response), deps_(deps) {
  Submit(&ImportReactor::Authenticate);
}

void ImportReactor::Submit(void (ImportReactor::*step)()) {
  if (!deps_.executor->TrySubmit([this, step] { (this->*step)(); })) {
    Finish(ToGrpcStatus(
        WithRetryDelay(absl::ResourceExhaustedError("server busy"), absl::Milliseconds(200))));
  }
}

void ImportReactor::Authenticate() {
  absl::StatusOr<auth::Caller> caller = deps_.authenticator->Authenticate(*context_);
  absl::Status allowed =
      caller.ok() ? auth::RequireRole(*caller, {auth::Role::kAdmin, auth::Role::kService})
                  : caller.status();
  if (!allowed.ok()) {
    Finish(ToGrpcStatus(allowed));
    return;
  }
  caller_ = *std::move(caller);
  ReadNext();
}

void ImportReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (the import is complete), or went away (what
    // was stored stays; nothing is answered).
    if (context_->IsCancelled()) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    Submit(&ImportReactor::Complete);
    return;
  }
  Submit(&ImportReactor::Store);
}

void ImportReactor::Fail(int64_t index, const std::string& mls_id, const std::string& field,
                         const std::string& message) {
  response_->set_failed_count(response_->failed_count() + 1);
  if (response_->errors_size() >= kMaxErrors) {
    response_->set_errors_truncated(true);
    return;
  }
  v1::ImportError* error = response_->add_errors();
  error->set_row_index(index);
  error->set_mls_id(mls_id);
  error->set_field(field);
  error->set_message(message);
}

void ImportReactor::Store() {
  if (absl::Status s = auth::RequireUnexpired(caller_); !s.ok()) {
    Finish(ToGrpcStatus(s));  // what was stored stays; the sender signs in again and resends
    return;
  }
  if (request_.properties_size() < 1 || request_.properties_size() > kMaxRowsPerMessage) {
    Finish(ToGrpcStatus(InvalidArgumentError(
        "properties", absl::StrCat("must hold 1 to ", kMaxRowsPerMessage,
                                   " listings per message (message ", messages_, ")"))));
    return;
  }
  ++messages_;
  if (first_message_) {
    first_message_ = false;
    request_id_ = request_.request_id();
    if (absl::Status s = fields::CheckRequestId(request_id_, "request_id"); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    absl::StatusOr<std::optional<std::string>> answer =
        deps_.listings->ImportAnswer(caller_.user_id, request_id_);
    if (!answer.ok()) {
      Finish(ToGrpcStatus(answer.status()));
      return;
    }
    if (answer->has_value()) {
      replaying_ = response_->ParseFromString(**answer);
    }
  }
  if (replaying_) {
    rows_seen_ += request_.properties_size();
    ReadNext();
    return;
  }
  std::vector<ImportRow> rows;
  rows.reserve(request_.properties_size());
  for (const v1::Property& in : request_.properties()) {
    const int64_t index = rows_seen_++;
    absl::StatusOr<PropertyRecord> listing = FromProto(in, "");
    if (listing.ok()) {
      if (listing->status.empty()) {
        listing->status = "ACTIVE";
      }
      Normalize(*listing);
      if (absl::Status s = CheckListing(*listing, ""); !s.ok()) {
        listing = s;
      } else if (listing->agent_id != 0) {
        if (absl::Status s = CheckListingAgent(*deps_.directory, listing->agent_id, "agent_id");
            !s.ok()) {
          listing = s;
        }
      }
    }
    if (!listing.ok()) {
      const std::optional<FieldViolation> violation = FieldViolationOf(listing.status());
      if (!violation.has_value() && listing.status().code() != absl::StatusCode::kInvalidArgument) {
        // Auth could not say whether the agent exists: the stream ends and
        // the sender retries; nothing of this message is stored.
        Finish(ToGrpcStatus(listing.status()));
        return;
      }
      Fail(index, in.mls_id(), violation ? violation->field : "",
           violation ? violation->description : std::string(listing.status().message()));
      continue;
    }
    rows.push_back({.index = index, .listing = *std::move(listing)});
  }
  // One transaction per run of rows that touch distinct listings.
  size_t done = 0;
  while (done < rows.size()) {
    std::vector<ImportRow> part(rows.begin() + static_cast<std::ptrdiff_t>(done), rows.end());
    absl::StatusOr<ImportOutcome> outcome = deps_.listings->Import(part, caller_.user_id);
    if (!outcome.ok()) {
      Finish(ToGrpcStatus(outcome.status()));  // this message is not stored; the sender resends
      return;
    }
    response_->set_created_count(response_->created_count() + outcome->created);
    response_->set_updated_count(response_->updated_count() + outcome->updated);
    response_->set_unchanged_count(response_->unchanged_count() + outcome->unchanged);
    for (const ImportFailure& failure : outcome->failed) {
      Fail(failure.index, failure.mls_id, failure.field, failure.message);
    }
    done += std::max<size_t>(outcome->consumed, 1);
  }
  ReadNext();
}

void ImportReactor::Complete() {
  if (!replaying_ && messages_ > 0) {
    const nlohmann::json details = {{"created", response_->created_count()},
                                    {"updated", response_->updated_count()},
                                    {"unchanged", response_->unchanged_count()},
                                    {"failed", response_->failed_count()},
                                    {"rows", rows_seen_},
                                    {"messages", messages_},
                                    {"seconds", absl::ToDoubleSeconds(absl::Now() - started_at_)}};
    if (absl::Status s =
            deps_.listings->FinishImport(caller_.user_id, request_id_, outbox::DetailsJson(details),
                                         response_->SerializeAsString());
        !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    log::Info("import done")
        .Int("rows", rows_seen_)
        .Int("created", response_->created_count())
        .Int("updated", response_->updated_count())
        .Int("unchanged", response_->unchanged_count())
        .Int("failed", response_->failed_count());
  }
  Finish(grpc::Status::OK);
}

}  // namespace crm::properties
