#include "services/audit/audit_service.h"

#include "common/auth/placeholder_rpcs.h"

namespace crm::audit {

grpc::ServerBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse>*
AuditServiceImpl::RecordActivities(grpc::CallbackServerContext* context) {
  return new auth::FinishedBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse>(
      auth::AuthenticateThenUnimplemented(*authenticator_, *context));
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListActivities(grpc::CallbackServerContext* context,
                                                           const v1::ListActivitiesRequest* request,
                                                           v1::ListActivitiesResponse* response) {
  return auth::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerWriteReactor<v1::WatchActivitiesResponse>* AuditServiceImpl::WatchActivities(
    grpc::CallbackServerContext* context, const v1::WatchActivitiesRequest* request) {
  return new auth::FinishedWriteReactor<v1::WatchActivitiesResponse>(
      auth::AuthenticateThenUnimplemented(*authenticator_, *context));
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyActivities(
    grpc::CallbackServerContext* context, const v1::VerifyActivitiesRequest* request,
    v1::VerifyActivitiesResponse* response) {
  return auth::PlaceholderUnary(*authenticator_, context);
}

}  // namespace crm::audit
