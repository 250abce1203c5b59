#pragma once

// PropertyService.ImportProperties: one MLS feed streamed in batches. Each
// message is read only after the previous one is stored (one transaction,
// or a few where a row repeats a listing), so memory stays at one message
// whatever the stream's length, and a slow database slows the sender
// instead of piling messages up. Steps run on the blocking executor, one at
// a time: the reactor's state needs no lock.

#include <cstdint>
#include <string>

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

 private:
  void Authenticate();
  void Store();     // the message just read
  void Complete();  // the stream is over: the import's event, its answer
  void Submit(void (ImportReactor::*step)());
  void ReadNext() { StartRead(&request_); }

  // A row that failed: counted, and listed while there is room.
  void Fail(int64_t index, const std::string& mls_id, const std::string& field,
            const std::string& message);

  grpc::CallbackServerContext* const context_;
  v1::ImportPropertiesResponse* const response_;
  const PropertyServiceDeps deps_;
  auth::Caller caller_;
  v1::ImportPropertiesRequest request_;
  bool first_message_ = true;
  // The import was answered before (same request_id): the stream is read to
  // its end and answered the same, nothing written.
  bool replaying_ = false;
  std::string request_id_;
  int64_t rows_seen_ = 0;
  int64_t messages_ = 0;
  absl::Time started_at_ = absl::Now();
};

}  // namespace crm::properties
