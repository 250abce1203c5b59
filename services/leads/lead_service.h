#pragma once

// crm.leads.v1.LeadService. Its RPCs land with the leads issue; until then every method
// authenticates the caller (UNAUTHENTICATED without a valid token) and then
// answers UNIMPLEMENTED.

#include "common/auth/authenticator.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"

namespace crm::leads {

class LeadServiceImpl final : public v1::LeadService::CallbackService {
 public:
  explicit LeadServiceImpl(auth::Authenticator* authenticator) : authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const v1::CreateLeadRequest* request,
                                       v1::CreateLeadResponse* response) override;
  grpc::ServerUnaryReactor* CaptureLead(grpc::CallbackServerContext* context,
                                        const v1::CaptureLeadRequest* request,
                                        v1::CaptureLeadResponse* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const v1::GetLeadRequest* request,
                                    v1::GetLeadResponse* response) override;
  grpc::ServerUnaryReactor* ListLeads(grpc::CallbackServerContext* context,
                                      const v1::ListLeadsRequest* request,
                                      v1::ListLeadsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateLead(grpc::CallbackServerContext* context,
                                       const v1::UpdateLeadRequest* request,
                                       v1::UpdateLeadResponse* response) override;
  grpc::ServerUnaryReactor* AssignLead(grpc::CallbackServerContext* context,
                                       const v1::AssignLeadRequest* request,
                                       v1::AssignLeadResponse* response) override;
  grpc::ServerUnaryReactor* ClaimLead(grpc::CallbackServerContext* context,
                                      const v1::ClaimLeadRequest* request,
                                      v1::ClaimLeadResponse* response) override;
  grpc::ServerUnaryReactor* DeleteLead(grpc::CallbackServerContext* context,
                                       const v1::DeleteLeadRequest* request,
                                       v1::DeleteLeadResponse* response) override;

 private:
  auth::Authenticator* const authenticator_;
};

}  // namespace crm::leads
