#include "services/leads/lead_service.h"

#include "common/service/placeholder_rpcs.h"

namespace crm::leads {

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLead(grpc::CallbackServerContext* context,
                                                      const v1::CreateLeadRequest* request,
                                                      v1::CreateLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::CaptureLead(grpc::CallbackServerContext* context,
                                                       const v1::CaptureLeadRequest* request,
                                                       v1::CaptureLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::GetLead(grpc::CallbackServerContext* context,
                                                   const v1::GetLeadRequest* request,
                                                   v1::GetLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::ListLeads(grpc::CallbackServerContext* context,
                                                     const v1::ListLeadsRequest* request,
                                                     v1::ListLeadsResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::UpdateLead(grpc::CallbackServerContext* context,
                                                      const v1::UpdateLeadRequest* request,
                                                      v1::UpdateLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::AssignLead(grpc::CallbackServerContext* context,
                                                      const v1::AssignLeadRequest* request,
                                                      v1::AssignLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::ClaimLead(grpc::CallbackServerContext* context,
                                                     const v1::ClaimLeadRequest* request,
                                                     v1::ClaimLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

grpc::ServerUnaryReactor* LeadServiceImpl::DeleteLead(grpc::CallbackServerContext* context,
                                                      const v1::DeleteLeadRequest* request,
                                                      v1::DeleteLeadResponse* response) {
  return service::PlaceholderUnary(*authenticator_, context);
}

}  // namespace crm::leads
