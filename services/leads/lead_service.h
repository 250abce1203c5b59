#pragma once

// crm.leads.v1.LeadService: proto ⇄ domain, DESIGN.md §4's permissions per
// row, and status mapping. The SQL is in LeadRepository; who is an active
// agent comes from auth through the UserDirectory.
//   ADMIN   everything
//   AGENT   creates leads (its own); reads, lists and updates its own leads;
//           reads, lists and claims unassigned ones
//   SERVICE reads, lists and captures
//   CLIENT  nothing (PERMISSION_DENIED)
// A lead the caller may not see is NOT_FOUND, revealing nothing, also in the
// duplicate refusal of CreateLead.

#include <grpcpp/support/byte_buffer.h>

#include "common/auth/authenticator.h"
#include "common/pagination/keyset_page.h"
#include "common/pagination/page_token.h"
#include "common/server/blocking_executor.h"
#include "common/users/user_directory.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "services/leads/lead_fields.h"
#include "services/leads/lead_repository.h"

namespace crm::leads {

struct LeadServiceDeps {
  LeadRepository* leads;
  users::UserDirectory* directory;
  const PhoneNormalizer* phones;
  auth::Authenticator* authenticator;
  const pagination::PageTokenCodec* page_tokens;
  server::BlockingExecutor* executor;
};

// GetLead and ListLeads are taken raw: what the pipelined reader reads is
// written from the result's rows straight into the answer's bytes
// (LeadRowEncoder), with no records or messages in between.
class LeadServiceImpl final
    : public v1::LeadService::WithRawCallbackMethod_GetLead<
          v1::LeadService::WithRawCallbackMethod_ListLeads<v1::LeadService::CallbackService>> {
 public:
  explicit LeadServiceImpl(LeadServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const v1::CreateLeadRequest* request,
                                       v1::CreateLeadResponse* response) override;
  grpc::ServerUnaryReactor* CaptureLead(grpc::CallbackServerContext* context,
                                        const v1::CaptureLeadRequest* request,
                                        v1::CaptureLeadResponse* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLeads(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
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
  absl::Status DoCreate(const auth::Caller& caller, const v1::CreateLeadRequest& request,
                        v1::CreateLeadResponse* response);
  absl::Status DoCapture(const auth::Caller& caller, const v1::CaptureLeadRequest& request,
                         v1::CaptureLeadResponse* response);
  static absl::Status CheckGet(const auth::Caller& caller, const v1::GetLeadRequest& request);
  static absl::Status RespondGet(const auth::Caller& caller, const absl::StatusOr<LeadRecord>& lead,
                                 grpc::ByteBuffer* response);
  // A ListLeads call checked and turned into its query and page.
  struct ListPlan {
    ListQuery query;
    pagination::KeysetPage page;
  };
  absl::StatusOr<ListPlan> PlanList(const auth::Caller& caller,
                                    const v1::ListLeadsRequest& request);
  // Consumes `leads` (their strings move into the response).
  static absl::Status RespondList(const ListPlan& plan,
                                  absl::StatusOr<std::vector<LeadRecord>> leads,
                                  grpc::ByteBuffer* response);
  absl::Status DoUpdate(const auth::Caller& caller, const v1::UpdateLeadRequest& request,
                        v1::UpdateLeadResponse* response);
  absl::Status DoAssign(const auth::Caller& caller, const v1::AssignLeadRequest& request,
                        v1::AssignLeadResponse* response);
  absl::Status DoClaim(const auth::Caller& caller, const v1::ClaimLeadRequest& request,
                       v1::ClaimLeadResponse* response);
  absl::Status DoDelete(const auth::Caller& caller, const v1::DeleteLeadRequest& request,
                        v1::DeleteLeadResponse* response);

  // OK when `agent_id` is an active AGENT; INVALID_ARGUMENT naming `field`
  // otherwise; UNAVAILABLE when auth cannot say.
  absl::Status CheckAgent(int64_t agent_id, absl::string_view field);
  // The contact fields, checked (field names under `prefix`) and keyed.
  absl::StatusOr<LeadContact> Contact(absl::string_view prefix, const std::string& name,
                                      bool name_required, const std::string& email,
                                      const std::string& phone, const std::string& contact_info);

  const LeadServiceDeps deps_;
};

}  // namespace crm::leads
