#include "services/properties/property_service.h"

#include "common/service/placeholder_rpcs.h"

namespace crm::properties {

grpc::ServerUnaryReactor* PropertyServiceImpl::CreateProperty(
    grpc::CallbackServerContext* context, const v1::CreatePropertyRequest* request,
    v1::CreatePropertyResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* PropertyServiceImpl::GetProperty(grpc::CallbackServerContext* context,
                                                           const v1::GetPropertyRequest* request,
                                                           v1::GetPropertyResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* PropertyServiceImpl::ListProperties(
    grpc::CallbackServerContext* context, const v1::ListPropertiesRequest* request,
    v1::ListPropertiesResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* PropertyServiceImpl::UpdateProperty(
    grpc::CallbackServerContext* context, const v1::UpdatePropertyRequest* request,
    v1::UpdatePropertyResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* PropertyServiceImpl::DeleteProperty(
    grpc::CallbackServerContext* context, const v1::DeletePropertyRequest* request,
    v1::DeletePropertyResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerReadReactor<v1::ImportPropertiesRequest>* PropertyServiceImpl::ImportProperties(
    grpc::CallbackServerContext* context, v1::ImportPropertiesResponse* response) {
  return new service::PlaceholderStream<grpc::ServerReadReactor<v1::ImportPropertiesRequest>>(
      *authenticator_, *context);
}

}  // namespace crm::properties
