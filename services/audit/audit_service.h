#pragma once

// crm.audit.v1.AuditService: proto ⇄ domain, authorisation and status
// mapping. Storage is ActivityRepository; the two streaming RPCs live in
// their own reactors (record_activities_reactor.h, watch_activities_reactor.h).
//
// Who may do what (DESIGN.md §4, refined by issue 4):
//   RecordActivities  SERVICE
//   ListActivities    ADMIN and SERVICE: all; AGENT: activities it performed; CLIENT: none
//   WatchActivities   ADMIN and SERVICE
//   VerifyActivities  ADMIN

#include "common/auth/caller.h"
#include "crm/audit/v1/audit_service.grpc.pb.h"
#include "services/audit/audit_service_deps.h"

namespace crm::audit {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  explicit AuditServiceImpl(const AuditServiceDeps& deps) : deps_(deps) {}

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
  absl::Status DoListActivities(const auth::Caller& caller,
                                const v1::ListActivitiesRequest& request,
                                v1::ListActivitiesResponse* response);
  absl::Status DoVerifyActivities(const auth::Caller& caller,
                                  const grpc::CallbackServerContext& context,
                                  const v1::VerifyActivitiesRequest& request,
                                  v1::VerifyActivitiesResponse* response);

  const AuditServiceDeps deps_;
};

}  // namespace crm::audit
