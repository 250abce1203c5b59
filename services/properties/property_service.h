#pragma once

// crm.properties.v1.PropertyService. Its RPCs land with the properties issue; until then every
// method authenticates the caller (UNAUTHENTICATED without a valid token) and then answers
// UNIMPLEMENTED.

#include "common/auth/authenticator.h"
#include "crm/properties/v1/property_service.grpc.pb.h"

namespace crm::properties {

class PropertyServiceImpl final : public v1::PropertyService::CallbackService {
 public:
  explicit PropertyServiceImpl(auth::Authenticator* authenticator)
      : authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* CreateProperty(grpc::CallbackServerContext* context,
                                           const v1::CreatePropertyRequest* request,
                                           v1::CreatePropertyResponse* response) override;
  grpc::ServerUnaryReactor* GetProperty(grpc::CallbackServerContext* context,
                                        const v1::GetPropertyRequest* request,
                                        v1::GetPropertyResponse* response) override;
  grpc::ServerUnaryReactor* ListProperties(grpc::CallbackServerContext* context,
                                           const v1::ListPropertiesRequest* request,
                                           v1::ListPropertiesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateProperty(grpc::CallbackServerContext* context,
                                           const v1::UpdatePropertyRequest* request,
                                           v1::UpdatePropertyResponse* response) override;
  grpc::ServerUnaryReactor* DeleteProperty(grpc::CallbackServerContext* context,
                                           const v1::DeletePropertyRequest* request,
                                           v1::DeletePropertyResponse* response) override;
  grpc::ServerReadReactor<v1::ImportPropertiesRequest>* ImportProperties(
      grpc::CallbackServerContext* context, v1::ImportPropertiesResponse* response) override;

 private:
  auth::Authenticator* const authenticator_;
};

}  // namespace crm::properties
