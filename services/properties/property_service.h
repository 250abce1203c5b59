#pragma once

// crm.properties.v1.PropertyService: proto ⇄ domain, who may do what, and
// status mapping. The SQL is in PropertyRepository; whether a listing's agent
// is an active AGENT or ADMIN comes from auth through the UserDirectory.
//   ADMIN   everything
//   AGENT   reads all listings; creates listings (its own) and updates and
//           deletes its own
//   CLIENT  reads listings on the market (Active, Active Under Contract,
//           Coming Soon); others are NOT_FOUND and never listed
//   SERVICE reads (and imports)
// ImportProperties is its own reactor (import_reactor.h).

#include <grpcpp/support/byte_buffer.h>

#include "common/pagination/keyset_page.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "services/properties/property_service_deps.h"

namespace crm::properties {

// GetProperty and ListProperties are taken raw: what the pipelined reader
// reads is written from the result's rows straight into the answer's bytes
// (PropertyRowEncoder), with no records or messages in between.
class PropertyServiceImpl final : public v1::PropertyService::WithRawCallbackMethod_GetProperty<
                                      v1::PropertyService::WithRawCallbackMethod_ListProperties<
                                          v1::PropertyService::CallbackService>> {
 public:
  explicit PropertyServiceImpl(PropertyServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateProperty(grpc::CallbackServerContext* context,
                                           const v1::CreatePropertyRequest* request,
                                           v1::CreatePropertyResponse* response) override;
  grpc::ServerUnaryReactor* GetProperty(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListProperties(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateProperty(grpc::CallbackServerContext* context,
                                           const v1::UpdatePropertyRequest* request,
                                           v1::UpdatePropertyResponse* response) override;
  grpc::ServerUnaryReactor* DeleteProperty(grpc::CallbackServerContext* context,
                                           const v1::DeletePropertyRequest* request,
                                           v1::DeletePropertyResponse* response) override;
  grpc::ServerReadReactor<v1::ImportPropertiesRequest>* ImportProperties(
      grpc::CallbackServerContext* context, v1::ImportPropertiesResponse* response) override;

 private:
  absl::Status DoCreate(const auth::Caller& caller, const v1::CreatePropertyRequest& request,
                        v1::CreatePropertyResponse* response);
  static absl::Status CheckGet(const v1::GetPropertyRequest& request);
  static absl::Status RespondGet(const auth::Caller& caller, absl::StatusOr<PropertyRecord> listing,
                                 grpc::ByteBuffer* response);
  // A search as the caller may make it, checked, and its page.
  struct ListPlan {
    ListQuery query;
    pagination::KeysetPage page;
    bool nothing_matches = false;
  };
  absl::StatusOr<ListPlan> PlanList(const auth::Caller& caller,
                                    const v1::ListPropertiesRequest& request);
  // Consumes `listings` (their strings move into the response).
  static absl::Status RespondList(const ListPlan& plan,
                                  absl::StatusOr<std::vector<PropertyRecord>> listings,
                                  v1::ListPropertiesResponse* response);
  absl::Status DoUpdate(const auth::Caller& caller, const v1::UpdatePropertyRequest& request,
                        v1::UpdatePropertyResponse* response);
  absl::Status DoDelete(const auth::Caller& caller, const v1::DeletePropertyRequest& request,
                        v1::DeletePropertyResponse* response);

  const PropertyServiceDeps deps_;
};

}  // namespace crm::properties
