#include "services/properties/import_reactor.h"

#include <algorithm>
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
// A listing another writer created between this transaction's match and its
// insert fails the insert; run again, the row finds it and updates it.
constexpr int kAttemptsOnConcurrentCreate = 3;

absl::Status Busy() {
  return WithRetryDelay(absl::ResourceExhaustedError("server busy"), absl::Milliseconds(200));
}

}  // namespace

ImportReactor::ImportReactor(grpc::CallbackServerContext* context,
                             v1::ImportPropertiesResponse* response,
                             const PropertyServiceDeps& deps)
    : context_(context), response_(response), deps_(deps) {
  if (!Submit([this] { Authenticate(); })) {
    Finish(ToGrpcStatus(Busy()));
  }
}

bool ImportReactor::Submit(absl::AnyInvocable<void()> step) {
  return deps_.executor->TrySubmit(std::move(step));
}

void ImportReactor::Authenticate() {
  absl::StatusOr<auth::Caller> caller = deps_.authenticator->Authenticate(*context_);
  absl::Status allowed =
      caller.ok() ? auth::RequireRole(*caller, {auth::Role::kAdmin, auth::Role::kService})
                  : caller.status();
  if (!allowed.ok()) {
    Finish(ToGrpcStatus(allowed));  // nothing started yet
    return;
  }
  caller_ = *std::move(caller);
  ReadNext();
}

void ImportReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (the import is complete), or went away (what
    // was stored stays; nothing is answered).
    mu_.Lock();
    if (finished_) {
      mu_.Unlock();
      return;
    }
    stream_ended_ = true;
    if (context_->IsCancelled() && failure_.ok()) {
      failure_ = absl::CancelledError("the client cancelled the import");
    }
    Advance();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (finished_) {
      // Ended meanwhile (a message failed): nothing more may start, since
      // gRPC deletes the reactor once this returns.
      return;
    }
    checking_ = true;
  }
  if (!Submit([this] { Check(); })) {
    mu_.Lock();
    checking_ = false;
    if (failure_.ok()) {
      failure_ = Busy();
    }
    Advance();
  }
}

void ImportReactor::FailImport(absl::Status status) {
  mu_.Lock();
  if (failure_.ok()) {
    failure_ = std::move(status);
  }
  Advance();
}

void ImportReactor::FailRow(int64_t index, const std::string& mls_id, const std::string& field,
                            const std::string& message) {
  response_->set_failed_count(response_->failed_count() + 1);
  auto* errors = response_->mutable_errors();
  if (errors->size() >= kMaxErrors) {
    response_->set_errors_truncated(true);
    auto last = std::max_element(errors->begin(), errors->end(),
                                 [](const v1::ImportError& a, const v1::ImportError& b) {
                                   return a.row_index() < b.row_index();
                                 });
    if (last->row_index() < index) {
      return;
    }
    errors->erase(last);
  }
  v1::ImportError* error = errors->Add();
  error->set_row_index(index);
  error->set_mls_id(mls_id);
  error->set_field(field);
  error->set_message(message);
}

void ImportReactor::Check() {
  if (absl::Status s = auth::RequireUnexpired(caller_); !s.ok()) {
    mu_.Lock();
    checking_ = false;
    mu_.Unlock();
    FailImport(s);  // what was stored stays; the sender signs in again and resends
    return;
  }
  absl::Status ends_stream;
  Batch batch;
  if (request_.properties_size() < 1 || request_.properties_size() > kMaxRowsPerMessage) {
    ends_stream = InvalidArgumentError(
        "properties", absl::StrCat("must hold 1 to ", kMaxRowsPerMessage,
                                   " listings per message (message ", messages_, ")"));
  }
  if (ends_stream.ok()) {
    ++messages_;
  }
  if (ends_stream.ok() && first_message_) {
    first_message_ = false;
    request_id_ = request_.request_id();
    ends_stream = fields::CheckRequestId(request_id_, "request_id");
    if (ends_stream.ok()) {
      absl::StatusOr<std::optional<std::string>> answer =
          deps_.listings->ImportAnswer(caller_.user_id, request_id_);
      if (!answer.ok()) {
        ends_stream = answer.status();
      } else if (answer->has_value()) {
        // The first message: nothing is stored yet, the response is ours.
        replaying_ = response_->ParseFromString(**answer);
      }
    }
  }
  struct RowFailure {
    int64_t index;
    std::string mls_id, field, message;
  };
  std::vector<RowFailure> failed;
  if (ends_stream.ok() && replaying_) {
    rows_seen_ += request_.properties_size();
  } else if (ends_stream.ok()) {
    batch.rows.reserve(request_.properties_size());
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
        if (!violation.has_value() &&
            listing.status().code() != absl::StatusCode::kInvalidArgument) {
          // Auth could not say whether the agent exists: the stream ends
          // and the sender retries; nothing of this message is stored.
          ends_stream = listing.status();
          break;
        }
        failed.push_back(
            {index, in.mls_id(), violation ? violation->field : "",
             violation ? violation->description : std::string(listing.status().message())});
        continue;
      }
      batch.identities.insert(absl::StrCat("m:", listing->mls_id));
      if (!listing->listing_key.empty()) {
        batch.identities.insert(
            absl::StrCat("k:", listing->originating_system_name, "\n", listing->listing_key));
      }
      batch.rows.push_back({.index = index, .listing = *std::move(listing)});
    }
  }
  mu_.Lock();
  checking_ = false;
  if (!ends_stream.ok()) {
    if (failure_.ok()) {
      failure_ = std::move(ends_stream);
    }
    Advance();
    return;
  }
  for (RowFailure& f : failed) {
    FailRow(f.index, f.mls_id, f.field, f.message);
  }
  if (!batch.rows.empty()) {
    waiting_ = std::move(batch);
  }
  read_pending_ = true;
  Advance();
}

bool ImportReactor::Overlaps(const Batch& batch) const {
  for (const auto& [id, identities] : in_flight_identities_) {
    for (const std::string& identity : batch.identities) {
      if (identities.contains(identity)) {
        return true;
      }
    }
  }
  return false;
}

void ImportReactor::Advance() {
  std::optional<std::pair<int64_t, Batch>> start;
  if (failure_.ok() && waiting_.has_value() &&
      static_cast<int>(in_flight_identities_.size()) < kMaxInFlight && !Overlaps(*waiting_)) {
    const int64_t id = next_batch_id_++;
    in_flight_identities_[id] = std::move(waiting_->identities);  // Store needs only the rows
    start.emplace(id, *std::move(waiting_));
    waiting_.reset();
  }
  bool read = false;
  if (failure_.ok() && read_pending_ && !waiting_.has_value() && !stream_ended_) {
    read_pending_ = false;
    read = true;
  }
  bool finish = false;
  if (!finished_ && in_flight_identities_.empty() && !checking_ &&
      (!failure_.ok() || (stream_ended_ && !waiting_.has_value()))) {
    finished_ = true;
    finish = true;
  }
  const absl::Status failure = failure_;
  mu_.Unlock();

  if (start.has_value()) {
    const int64_t id = start->first;
    if (!Submit([this, id, batch = std::move(start->second)]() mutable {
          Store(id, std::move(batch));
        })) {
      mu_.Lock();
      in_flight_identities_.erase(id);
      if (failure_.ok()) {
        failure_ = Busy();
      }
      Advance();
      return;
    }
  }
  if (read) {
    ReadNext();
  }
  if (finish) {
    if (!failure.ok()) {
      Finish(ToGrpcStatus(failure));  // what was stored stays; the sender resends the rest
    } else if (!Submit([this] { Complete(); })) {
      Finish(ToGrpcStatus(Busy()));
    }
  }
}

void ImportReactor::Store(int64_t id, Batch batch) {
  ImportOutcome total;
  absl::Status status;
  // One transaction per run of rows that touch distinct listings.
  size_t done = 0;
  while (done < batch.rows.size() && status.ok()) {
    std::vector<ImportRow> part(batch.rows.begin() + static_cast<std::ptrdiff_t>(done),
                                batch.rows.end());
    absl::StatusOr<ImportOutcome> outcome;
    for (int attempt = 1; attempt <= kAttemptsOnConcurrentCreate; ++attempt) {
      outcome = deps_.listings->Import(part, caller_.user_id);
      if (outcome.ok() || outcome.status().code() != absl::StatusCode::kAlreadyExists) {
        break;
      }
    }
    if (!outcome.ok()) {
      // This run of rows is not stored; the sender resends the message.
      status = outcome.status().code() == absl::StatusCode::kAlreadyExists
                   ? absl::AbortedError("listings of this import changed meanwhile; retry")
                   : outcome.status();
      break;
    }
    total.created += outcome->created;
    total.updated += outcome->updated;
    total.unchanged += outcome->unchanged;
    for (ImportFailure& failure : outcome->failed) {
      total.failed.push_back(std::move(failure));
    }
    done += std::max<size_t>(outcome->consumed, 1);
  }
  mu_.Lock();
  in_flight_identities_.erase(id);
  response_->set_created_count(response_->created_count() + total.created);
  response_->set_updated_count(response_->updated_count() + total.updated);
  response_->set_unchanged_count(response_->unchanged_count() + total.unchanged);
  for (const ImportFailure& failure : total.failed) {
    FailRow(failure.index, failure.mls_id, failure.field, failure.message);
  }
  if (!status.ok() && failure_.ok()) {
    failure_ = std::move(status);
  }
  Advance();
}

void ImportReactor::Complete() {
  // Every step has ended: the response is this thread's alone.
  std::sort(response_->mutable_errors()->begin(), response_->mutable_errors()->end(),
            [](const v1::ImportError& a, const v1::ImportError& b) {
              return a.row_index() < b.row_index();
            });
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
