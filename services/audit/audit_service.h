#pragma once

// crm.audit.v1.AuditService. Its RPCs land with issue #4; until then every method
// authenticates the caller (UNAUTHENTICATED without a valid token) and then
// answers UNIMPLEMENTED.

#include "common/auth/authenticator.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"

namespace crm::audit {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  explicit AuditServiceImpl(auth::Authenticator* authenticator) : authenticator_(authenticator) {}

  grpc::ServerBidiReactor<v1::RecordActivitiesRequest, v1::RecordActivitiesResponse>*
  RecordActivities(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListActivities(grpc::CallbackServerContext* context,
                                           const v1::ListActivitiesRequest* request,
                                           v1::ListActivitiesResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchActivitiesResponse>* WatchActivities(
      grpc::CallbackServerContext* context, const v1::WatchActivitiesRequest* request) override;
  grpc::ServerUnaryReactor* VerifyActivities(grpc::CallbackServerContext* context,
                                             const v1::VerifyActivitiesRequest* request,
                                             v1::VerifyActivitiesResponse* response) override;

 private:
  auth::Authenticator* const authenticator_;
};

}  // namespace crm::audit
