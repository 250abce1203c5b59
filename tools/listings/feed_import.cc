#include "tools/listings/feed_import.h"

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "common/status/grpc_status.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "tools/listings/reso_record.h"

namespace crm::listings {
namespace {

namespace pv1 = properties::v1;
using Batch = std::unique_ptr<pv1::ImportPropertiesRequest>;

// Batches between the reading thread and the sending one. Two may wait:
// enough to keep the stream busy while the next is parsed, and a bound on
// memory however fast the file reads.
class BatchQueue {
 public:
  // False once the sender has stopped: the reader should stop too.
  bool Push(Batch batch) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BatchQueue::HasRoom));
    if (cancelled_) {
      return false;
    }
    batches_.push_back(std::move(batch));
    return true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  // Null when the reader has closed the queue and it is empty.
  Batch Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BatchQueue::Ready));
    if (batches_.empty()) {
      return nullptr;
    }
    Batch next = std::move(batches_.front());
    batches_.pop_front();
    return next;
  }

 private:
  static constexpr size_t kCapacity = 2;
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || batches_.size() < kCapacity;
  }
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !batches_.empty(); }

  absl::Mutex mu_;
  std::deque<Batch> batches_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Stream rows to file records. Records that failed here never reach the
// stream, so the two numberings part at each one: a run starts there.
// Memory grows with local failures only.
class PositionMap {
 public:
  void Sent(int64_t row, int64_t record) {
    if (runs_.empty() || record - runs_.back().second != row - runs_.back().first) {
      runs_.emplace_back(row, record);
    }
  }
  int64_t RecordOf(int64_t row) const {
    auto it = std::upper_bound(runs_.begin(), runs_.end(), std::pair{row, INT64_MAX});
    if (it == runs_.begin()) {
      return row;  // not a row the stream was sent; keep the service's number
    }
    --it;
    return it->second + (row - it->first);
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> runs_;
};

// The reading side: records → mapped rows → batches.
class Reader {
 public:
  Reader(const FeedImportOptions& options, BatchQueue* queue, ImportProgress* progress)
      : options_(options), queue_(queue), progress_(progress) {}

  void Run(std::istream& in) {
    status_ = FeedReader::Read(
        in, options_.format,
        [this](absl::StatusOr<nlohmann::json> record, int64_t index) {
          return Take(std::move(record), index);
        },
        progress_ != nullptr ? progress_->bytes() : nullptr);
    if (batch_ != nullptr && batch_->properties_size() > 0 && !stopped_) {
      Send();
    }
    queue_->Close();
  }

  const absl::Status& status() const { return status_; }
  int64_t records() const { return records_; }
  int64_t unmatched() const { return unmatched_; }
  const PositionMap& positions() const { return positions_; }
  std::vector<FeedFailure>& failures() { return failures_; }
  int64_t failed() const { return failed_; }

 private:
  bool Take(absl::StatusOr<nlohmann::json> record, int64_t index) {
    ++records_;
    if (!record.ok()) {
      Fail(index, "", "", std::string(record.status().message()));
      return true;
    }
    absl::StatusOr<pv1::Property> listing = FromReso(*record);
    if (!listing.ok()) {
      std::string listing_id;
      if (auto it = record->find("ListingId"); it != record->end() && it->is_string()) {
        listing_id = it->get<std::string>();
      }
      if (std::optional<FieldViolation> v = FieldViolationOf(listing.status()); v.has_value()) {
        Fail(index, listing_id, v->field, v->description);
      } else {
        Fail(index, listing_id, "", std::string(listing.status().message()));
      }
      return true;
    }
    if (auto it = record->find("ListAgentEmail"); it != record->end() && it->is_string()) {
      auto agent = options_.agents_by_email.find(absl::AsciiStrToLower(it->get<std::string>()));
      if (agent != options_.agents_by_email.end()) {
        listing->set_agent_id(agent->second);
      } else {
        ++unmatched_;
      }
    }
    if (batch_ == nullptr) {
      batch_ = std::make_unique<pv1::ImportPropertiesRequest>();
    }
    positions_.Sent(rows_++, index);
    batch_->add_properties()->Swap(&*listing);
    if (batch_->properties_size() >= options_.batch_size) {
      return Send();
    }
    return true;
  }

  bool Send() {
    const int n = batch_->properties_size();
    if (!queue_->Push(std::move(batch_))) {
      stopped_ = true;
      return false;
    }
    if (progress_ != nullptr) {
      progress_->AddRecords(n);
    }
    return true;
  }

  void Fail(int64_t index, std::string listing_id, std::string field, std::string message) {
    ++failed_;
    if (failures_.size() < static_cast<size_t>(kMaxFailuresKept)) {
      failures_.push_back({index, std::move(listing_id), std::move(field), std::move(message)});
    }
  }

  const FeedImportOptions& options_;
  BatchQueue* const queue_;
  ImportProgress* const progress_;
  Batch batch_;
  absl::Status status_;
  int64_t records_ = 0;
  int64_t rows_ = 0;
  int64_t unmatched_ = 0;
  int64_t failed_ = 0;
  bool stopped_ = false;
  PositionMap positions_;
  std::vector<FeedFailure> failures_;
};

}  // namespace

absl::StatusOr<FeedImportResult> ImportFeed(std::istream& in,
                                            const std::shared_ptr<grpc::Channel>& channel,
                                            const FeedImportOptions& options,
                                            ImportProgress* progress) {
  if (options.batch_size < 1 || options.batch_size > 1000) {
    return absl::InvalidArgumentError("--batch: must be 1..1000 records per message");
  }
  const absl::Time started = absl::Now();
  BatchQueue queue;
  Reader reader(options, &queue, progress);
  std::thread reading([&] { reader.Run(in); });

  grpc::ClientContext context;
  context.set_deadline(client::DeadlineAfter(options.timeout));
  if (!options.access_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options.access_token));
  }
  pv1::ImportPropertiesResponse response;
  std::unique_ptr<pv1::PropertyService::Stub> stub = pv1::PropertyService::NewStub(channel);
  std::unique_ptr<grpc::ClientWriter<pv1::ImportPropertiesRequest>> writer =
      stub->ImportProperties(&context, &response);
  bool first = true;
  bool broken = false;
  while (Batch batch = queue.Pop()) {
    if (first && !options.request_id.empty()) {
      batch->set_request_id(options.request_id);
    }
    first = false;
    if (!writer->Write(*batch)) {
      broken = true;  // the service ended the stream; Finish says why
      break;
    }
  }
  queue.Cancel();
  if (!broken) {
    writer->WritesDone();
  }
  const grpc::Status status = writer->Finish();
  reading.join();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("ImportProperties failed: ", status.error_message(),
                                     " (messages the service acknowledged before stay applied; "
                                     "importing the file again is harmless)"));
  }
  if (!reader.status().ok()) {
    return absl::Status(
        reader.status().code(),
        absl::StrCat(reader.status().message(), "; the ", reader.records(),
                     " records before it were imported: fix the file and import it again"));
  }

  FeedImportResult result;
  result.records = reader.records();
  result.created = response.created_count();
  result.updated = response.updated_count();
  result.unchanged = response.unchanged_count();
  result.failed = reader.failed() + response.failed_count();
  result.agent_emails_unmatched = reader.unmatched();
  result.failures = std::move(reader.failures());
  for (const pv1::ImportError& e : response.errors()) {
    result.failures.push_back(
        {reader.positions().RecordOf(e.row_index()), e.mls_id(), e.field(), e.message()});
  }
  std::stable_sort(result.failures.begin(), result.failures.end(),
                   [](const FeedFailure& a, const FeedFailure& b) { return a.record < b.record; });
  if (result.failures.size() > static_cast<size_t>(kMaxFailuresKept)) {
    result.failures.resize(kMaxFailuresKept);
  }
  result.failures_truncated =
      response.errors_truncated() || result.failed > static_cast<int64_t>(result.failures.size());
  result.elapsed = absl::Now() - started;
  return result;
}

}  // namespace crm::listings
