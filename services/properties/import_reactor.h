#pragma once

// PropertyService.ImportProperties: one MLS feed streamed in batches. Each
// message's rows are checked as it arrives and stored in a transaction of
// their own (or a few, where a row repeats a listing), two messages' at a
// time: the database's work on one overlaps the next, which is what bounds
// an import (its indexes), and both cores get some. Messages that touch the
// same listing (by mls_id or listing key) never run at once, so each
// listing's changes apply in stream order. At most two messages are stored
// while a third waits, checked, before the stream is read further, so memory
// stays at a few messages whatever the stream's length, and a slow database
// slows the sender instead of piling messages up.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "services/properties/property_service_deps.h"

namespace crm::properties {

class ImportReactor final : public grpc::ServerReadReactor<v1::ImportPropertiesRequest> {
 public:
  ImportReactor(grpc::CallbackServerContext* context, v1::ImportPropertiesResponse* response,
                const PropertyServiceDeps& deps);

  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

  // Messages stored at once.
  static constexpr int kMaxInFlight = 2;

 private:
  // One message's checked rows and the listings they name.
  struct Batch {
    std::vector<ImportRow> rows;
    absl::flat_hash_set<std::string> identities;  // "m:<mls_id>", "k:<system>\n<key>"
  };

  void Authenticate();
  void Check();  // the message just read, on the executor
  void Store(int64_t id, Batch batch);
  void Complete();
  bool Submit(absl::AnyInvocable<void()> step);
  void ReadNext() { StartRead(&request_); }

  // Starts what may start (waiting_, reading on) and, once nothing is left
  // to do, ends the call. Called with mu_ held; unlocks it.
  void Advance() ABSL_UNLOCK_FUNCTION(mu_);
  bool Overlaps(const Batch& batch) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the import with `status` once no message is being stored.
  void FailImport(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // A row that failed: counted, and listed while there is room (the
  // lowest positions are kept: rows of two messages fail in either order).
  void FailRow(int64_t index, const std::string& mls_id, const std::string& field,
               const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  v1::ImportPropertiesResponse* const response_;
  const PropertyServiceDeps deps_;
  auth::Caller caller_;
  absl::Time started_at_ = absl::Now();

  // Read and checked one message at a time (the next read starts after the
  // check): owned by whichever step runs, no lock needed.
  v1::ImportPropertiesRequest request_;
  bool first_message_ = true;
  // The import was answered before (same request_id): the stream is read to
  // its end and answered the same, nothing written.
  bool replaying_ = false;
  std::string request_id_;
  int64_t rows_seen_ = 0;
  int64_t messages_ = 0;

  absl::Mutex mu_;
  int64_t next_batch_id_ ABSL_GUARDED_BY(mu_) = 0;
  // The messages being stored, by batch id: the listings each names.
  absl::flat_hash_map<int64_t, absl::flat_hash_set<std::string>> in_flight_identities_
      ABSL_GUARDED_BY(mu_);
  bool checking_ ABSL_GUARDED_BY(mu_) = false;  // a message being checked
  std::optional<Batch> waiting_ ABSL_GUARDED_BY(mu_);
  bool read_pending_ ABSL_GUARDED_BY(mu_) = false;  // a message checked, the next read not begun
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;  // half-closed or cancelled
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::properties
