#include "services/notifications/rules.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/fields/text_checks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::notifications {

// Drafts printed readably when an expectation fails.
void PrintTo(const Draft& d, std::ostream* os) {
  *os << "{" << (d.audience == Audience::kUser ? "user " : "admins but ")
      << (d.audience == Audience::kUser ? d.recipient_id : d.exclude_user_id) << " (recipient_id "
      << d.recipient_id << ", exclude_user_id " << d.exclude_user_id << "), kind \"" << d.kind
      << "\", title \"" << d.title << "\", message \"" << d.message << "\", entity "
      << d.entity_type << " " << d.entity_id << "}";
}

namespace {

using json = nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Matcher;
using ::testing::SizeIs;

constexpr int64_t kAdmin = 1;
constexpr int64_t kAgent = 7;
constexpr int64_t kOtherAgent = 8;
constexpr int64_t kIntegration = 9;  // a SERVICE account that captures leads
constexpr int64_t kLead = 42;
constexpr int64_t kListing = 314;

// --- Events as the repositories record them ---------------------------------

FeedEvent Event(const std::string& service, const std::string& entity_type, int64_t entity_id,
                int64_t actor_id, const std::string& action, const json& details) {
  static int64_t seq = 0;
  ++seq;
  return FeedEvent{.seq = seq,
                   .event_id = absl::StrCat("0000000-test-", seq),
                   .actor_id = actor_id,
                   .action = action,
                   .service = service,
                   .entity_type = entity_type,
                   .entity_id = entity_id,
                   .details_json = details.dump()};
}

FeedEvent LeadEvent(int64_t actor_id, const std::string& action, const json& details) {
  return Event("leads", "lead", kLead, actor_id, action, details);
}

FeedEvent PropertyEvent(int64_t actor_id, const std::string& action, const json& details) {
  return Event("properties", "property", kListing, actor_id, action, details);
}

FeedEvent UserEvent(int64_t actor_id, const std::string& action, int64_t user_id,
                    const json& details) {
  return Event("auth", "user", user_id, actor_id, action, details);
}

// lead_repository.cc's RoutingJson.
json Routing(const std::string& rule, int64_t agent_id, const std::string& reason,
             const std::vector<int64_t>& candidates = {}) {
  return {{"rule", rule}, {"agent_id", agent_id}, {"reason", reason}, {"candidates", candidates}};
}

// lead_repository.cc's LeadSummary: lead.created's details.
json LeadSummary(const std::string& name, const std::string& source, int64_t assigned_to) {
  return {{"name", name}, {"source", source}, {"status", "NEW"}, {"assigned_to", assigned_to}};
}

// LeadRepository::Capture's lead.captured details.
json Captured(const std::string& name, const std::string& source, const std::string& message,
              const json& routing) {
  json details = LeadSummary(name, source, routing["agent_id"].get<int64_t>());
  details["external_id"] = "z-1001";
  details["message"] = message;
  details["received_time"] = "2024-05-01T12:00:00Z";
  details["routing"] = routing;
  return details;
}

// lead.assigned as Create and Assign record it (no "message").
json Assigned(int64_t agent_id, int64_t previous_agent_id, const std::string& name,
              const std::string& source, const json& routing) {
  return {{"agent_id", agent_id},
          {"previous_agent_id", previous_agent_id},
          {"name", name},
          {"source", source},
          {"routing", routing}};
}

// lead.assigned as Capture records it.
json AssignedByCapture(const std::string& name, const std::string& source,
                       const std::string& message, const json& routing) {
  json details = Assigned(routing["agent_id"].get<int64_t>(), 0, name, source, routing);
  details["message"] = message;
  return details;
}

json Claimed(int64_t agent_id, const std::string& name, const std::string& source) {
  return {{"agent_id", agent_id},
          {"name", name},
          {"source", source},
          {"routing", Routing("claim", agent_id, "claimed from the pool of unassigned leads")}};
}

json LeadStatusChanged(const std::string& old_status, const std::string& new_status,
                       const std::string& name, int64_t assigned_to) {
  return {{"old", old_status}, {"new", new_status}, {"name", name}, {"assigned_to", assigned_to}};
}

constexpr char kAddress[] = "12 Maple St Unit 4B, Springfield, IL 62701";

json PropertyStatusChanged(const std::string& old_status, const std::string& new_status,
                           int64_t agent_id) {
  return {{"old", old_status},
          {"new", new_status},
          {"mls_id", "ML81234"},
          {"address", kAddress},
          {"agent_id", agent_id}};
}

json PropertyPriceChanged(int64_t old_cents, int64_t new_cents, int64_t agent_id) {
  return {{"old_cents", old_cents},
          {"new_cents", new_cents},
          {"mls_id", "ML81234"},
          {"address", kAddress},
          {"agent_id", agent_id}};
}

json UserCreated(const std::string& name, const std::string& role) {
  return {{"name", name}, {"email", "ann@example.com"}, {"role", role}};
}

// UserRepository::Update's details: each changed field's old and new value.
json RoleChanged(const std::string& old_role, const std::string& new_role) {
  return {{"name", {{"old", "Ann"}, {"new", "Ann Agent"}}},
          {"role", {{"old", old_role}, {"new", new_role}}}};
}

// --- Matchers -------------------------------------------------------------------

Matcher<const Draft&> ToUser(int64_t recipient_id, const std::string& kind,
                             const std::string& title, const std::string& message,
                             const std::string& entity_type, int64_t entity_id) {
  return AllOf(Field("audience", &Draft::audience, Audience::kUser),
               Field("recipient_id", &Draft::recipient_id, recipient_id),
               Field("exclude_user_id", &Draft::exclude_user_id, 0),
               Field("kind", &Draft::kind, kind), Field("title", &Draft::title, title),
               Field("message", &Draft::message, message),
               Field("entity_type", &Draft::entity_type, entity_type),
               Field("entity_id", &Draft::entity_id, entity_id));
}

Matcher<const Draft&> ToAdmins(int64_t exclude_user_id, const std::string& title,
                               const std::string& message) {
  return AllOf(Field("audience", &Draft::audience, Audience::kActiveAdmins),
               Field("recipient_id", &Draft::recipient_id, 0),
               Field("exclude_user_id", &Draft::exclude_user_id, exclude_user_id),
               Field("kind", &Draft::kind, "lead.unassigned_new"),
               Field("title", &Draft::title, title), Field("message", &Draft::message, message),
               Field("entity_type", &Draft::entity_type, "lead"),
               Field("entity_id", &Draft::entity_id, kLead));
}

// Every draft of a sequence of events, in order.
std::vector<Draft> DraftsForAll(const std::vector<FeedEvent>& events) {
  std::vector<Draft> drafts;
  for (const FeedEvent& event : events) {
    for (Draft& draft : DraftsFor(event)) {
      drafts.push_back(std::move(draft));
    }
  }
  return drafts;
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += s;
  }
  return out;
}

// --- lead.assigned --------------------------------------------------------------

TEST(LeadAssignedTest, AdminCreatingAnAssignedLeadTellsOnlyTheAgent) {
  const json routing = Routing("manual", kAgent, "assigned by admin 1 on creation");
  EXPECT_THAT(
      DraftsForAll({
          LeadEvent(kAdmin, "lead.created", LeadSummary("Jane Doe", "zillow", kAgent)),
          LeadEvent(kAdmin, "lead.assigned", Assigned(kAgent, 0, "Jane Doe", "zillow", routing)),
      }),
      ElementsAre(ToUser(kAgent, "lead.assigned", "New lead: Jane Doe from zillow",
                         "assigned by admin 1 on creation", "lead", kLead)));
}

TEST(LeadAssignedTest, RoutedCaptureTellsTheAgentOnceWithTheInquiry) {
  const json routing = Routing("round_robin", kAgent,
                               "next of 3 active agents in rotation after agent 5", {5, 7, 11});
  const std::string message = "Is the house on Maple St still available?\nCall after 5pm.";
  EXPECT_THAT(DraftsForAll({
                  LeadEvent(kIntegration, "lead.captured",
                            Captured("Jane Doe", "zillow", message, routing)),
                  LeadEvent(kIntegration, "lead.assigned",
                            AssignedByCapture("Jane Doe", "zillow", message, routing)),
              }),
              ElementsAre(ToUser(kAgent, "lead.assigned", "New lead: Jane Doe from zillow", message,
                                 "lead", kLead)));
}

TEST(LeadAssignedTest, WithoutAnInquiryTheMessageIsTheRoutingReason) {
  const json routing =
      Routing("round_robin", kAgent, "next of 3 active agents in rotation", {5, 7, 11});
  EXPECT_THAT(DraftsFor(LeadEvent(kIntegration, "lead.assigned",
                                  AssignedByCapture("Jane Doe", "zillow", "", routing))),
              ElementsAre(ToUser(kAgent, "lead.assigned", "New lead: Jane Doe from zillow",
                                 "next of 3 active agents in rotation", "lead", kLead)));
}

TEST(LeadAssignedTest, ReassignmentTellsTheNewAgent) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.assigned",
                                  Assigned(kOtherAgent, kAgent, "Jane Doe", "web_form",
                                           Routing("manual", kOtherAgent, "assigned by admin 1")))),
              ElementsAre(ToUser(kOtherAgent, "lead.assigned", "New lead: Jane Doe from web_form",
                                 "assigned by admin 1", "lead", kLead)));
}

TEST(LeadAssignedTest, WithoutSourceOrReasonTheTitleAndMessageAreShorter) {
  json details = Assigned(kAgent, 0, "Jane Doe", "", Routing("", 0, ""));
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.assigned", details)),
      ElementsAre(ToUser(kAgent, "lead.assigned", "New lead: Jane Doe", "", "lead", kLead)));
  details.erase("routing");  // optional: no message then
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.assigned", details)),
      ElementsAre(ToUser(kAgent, "lead.assigned", "New lead: Jane Doe", "", "lead", kLead)));
  details["routing"] = "round_robin";  // not an object: no reason
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.assigned", details)),
              ElementsAre(Field(&Draft::message, "")));
}

TEST(LeadAssignedTest, AnAgentCreatingItsOwnLeadIsToldNothing) {
  const json routing = Routing("creator", kAgent, "created by the agent");
  EXPECT_THAT(
      DraftsForAll({
          LeadEvent(kAgent, "lead.created", LeadSummary("Jane Doe", "referral", kAgent)),
          LeadEvent(kAgent, "lead.assigned", Assigned(kAgent, 0, "Jane Doe", "referral", routing)),
      }),
      IsEmpty());
}

TEST(LeadAssignedTest, NoAgentNoDraft) {
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.assigned",
                          Assigned(0, kAgent, "Jane Doe", "zillow", Routing("manual", 0, "")))),
      IsEmpty());
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.assigned",
                                  Assigned(-3, 0, "Jane Doe", "zillow", Routing("manual", 0, "")))),
              IsEmpty());
  // Unassigning records lead.unassigned, which tells nobody.
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.unassigned",
                                  Assigned(0, kAgent, "Jane Doe", "zillow",
                                           Routing("manual", 0, "unassigned by admin 1")))),
              IsEmpty());
}

// --- lead.claimed ---------------------------------------------------------------

TEST(LeadClaimedTest, TellsTheClaimingAgentItself) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAgent, "lead.claimed", Claimed(kAgent, "Jane Doe", "zillow"))),
              ElementsAre(ToUser(kAgent, "lead.claimed", "Lead claimed: Jane Doe",
                                 "claimed from the pool of unassigned leads", "lead", kLead)));
}

TEST(LeadClaimedTest, NoAgentNoDraft) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAgent, "lead.claimed", Claimed(0, "Jane Doe", "zillow"))),
              IsEmpty());
}

// --- lead.unassigned_new ------------------------------------------------------

TEST(LeadUnassignedNewTest, AnUnassignedNewLeadTellsTheOtherAdmins) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.created", LeadSummary("Jane Doe", "web_form", 0))),
              ElementsAre(ToAdmins(kAdmin, "Unassigned lead: Jane Doe from web_form", "")));
}

TEST(LeadUnassignedNewTest, ACaptureNobodyGotTellsTheAdminsWithTheInquiry) {
  const json routing = Routing("round_robin", 0, "no active agent");
  EXPECT_THAT(DraftsFor(LeadEvent(kIntegration, "lead.captured",
                                  Captured("Jane Doe", "zillow", "Still available?", routing))),
              ElementsAre(ToAdmins(kIntegration, "Unassigned lead: Jane Doe from zillow",
                                   "Still available?")));
  // Captured by the system: nobody to leave out.
  EXPECT_THAT(DraftsFor(LeadEvent(0, "lead.captured", Captured("Jane Doe", "", "", routing))),
              ElementsAre(ToAdmins(0, "Unassigned lead: Jane Doe", "")));
}

TEST(LeadUnassignedNewTest, AnAssignedLeadIsNotSentToTheAdmins) {
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.created", LeadSummary("Jane Doe", "web_form", kAgent))),
      IsEmpty());
  EXPECT_THAT(DraftsFor(LeadEvent(kIntegration, "lead.captured",
                                  Captured("Jane Doe", "zillow", "Hi",
                                           Routing("round_robin", kAgent, "next of 1")))),
              IsEmpty());
}

// --- lead.status_changed ------------------------------------------------------

TEST(LeadStatusChangedTest, AChangeBySomeoneElseTellsTheAgent) {
  EXPECT_THAT(DraftsForAll({
                  LeadEvent(kAdmin, "lead.updated",
                            {{"changes", {{"status", {{"old", "NEW"}, {"new", "CONTACTED"}}}}},
                             {"assigned_to", kAgent}}),
                  LeadEvent(kAdmin, "lead.status_changed",
                            LeadStatusChanged("NEW", "CONTACTED", "Jane Doe", kAgent)),
              }),
              ElementsAre(ToUser(kAgent, "lead.status_changed", "Jane Doe: status New → Contacted",
                                 "", "lead", kLead)));
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.status_changed",
                          LeadStatusChanged("APPOINTMENT_SET", "CLOSED_WON", "Jane Doe", kAgent))),
      ElementsAre(Field(&Draft::title, "Jane Doe: status Appointment set → Closed won")));
}

TEST(LeadStatusChangedTest, TheAgentsOwnChangeOrAnUnassignedLeadTellsNobody) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAgent, "lead.status_changed",
                                  LeadStatusChanged("NEW", "CONTACTED", "Jane Doe", kAgent))),
              IsEmpty());
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.status_changed",
                                  LeadStatusChanged("NEW", "CONTACTED", "Jane Doe", 0))),
              IsEmpty());
}

// --- property.status_changed / price_changed ----------------------------------

TEST(PropertyStatusChangedTest, AChangeBySomeoneElseTellsTheListingsAgent) {
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.status_changed",
                                      PropertyStatusChanged("ACTIVE", "PENDING", kAgent))),
              ElementsAre(ToUser(
                  kAgent, "property.status_changed",
                  "12 Maple St Unit 4B, Springfield, IL 62701 (MLS ML81234): Active → Pending", "",
                  "property", kListing)));
  EXPECT_THAT(DraftsFor(PropertyEvent(
                  kAdmin, "property.status_changed",
                  PropertyStatusChanged("COMING_SOON", "ACTIVE_UNDER_CONTRACT", kAgent))),
              ElementsAre(Field(&Draft::title, absl::StrCat(kAddress,
                                                            " (MLS ML81234): Coming soon "
                                                            "→ Active under contract"))));
}

TEST(PropertyStatusChangedTest, TheAgentsOwnChangeOrNoAgentTellsNobody) {
  EXPECT_THAT(DraftsFor(PropertyEvent(kAgent, "property.status_changed",
                                      PropertyStatusChanged("ACTIVE", "PENDING", kAgent))),
              IsEmpty());
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.status_changed",
                                      PropertyStatusChanged("ACTIVE", "PENDING", 0))),
              IsEmpty());
}

TEST(PropertyPriceChangedTest, AChangeBySomeoneElseTellsTheListingsAgent) {
  EXPECT_THAT(
      DraftsFor(PropertyEvent(kAdmin, "property.price_changed",
                              PropertyPriceChanged(52500000, 49900000, kAgent))),
      ElementsAre(ToUser(kAgent, "property.price_changed",
                         absl::StrCat(kAddress, " (MLS ML81234): price $525,000 → $499,000"), "",
                         "property", kListing)));
}

TEST(PropertyPriceChangedTest, FormatsCents) {
  const auto title = [](int64_t old_cents, int64_t new_cents) {
    const std::vector<Draft> drafts = DraftsFor(PropertyEvent(
        kAdmin, "property.price_changed", PropertyPriceChanged(old_cents, new_cents, kAgent)));
    return drafts.size() == 1 ? drafts[0].title : "(not one draft)";
  };
  const std::string prefix = absl::StrCat(kAddress, " (MLS ML81234): price ");
  EXPECT_EQ(title(49999950, 5), prefix + "$499,999.50 → $0.05");
  EXPECT_EQ(title(0, 99), prefix + "$0 → $0.99");
  EXPECT_EQ(title(100, 100000), prefix + "$1 → $1,000");
  EXPECT_EQ(title(99999900, 100000000000), prefix + "$999,999 → $1,000,000,000");
  EXPECT_EQ(title(12345678901, -150), prefix + "$123,456,789.01 → -$1.50");
  EXPECT_EQ(title(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()),
            prefix + "$92,233,720,368,547,758.07 → -$92,233,720,368,547,758.08");
}

TEST(PropertyPriceChangedTest, TheAgentsOwnChangeOrNoAgentTellsNobody) {
  EXPECT_THAT(DraftsFor(PropertyEvent(kAgent, "property.price_changed",
                                      PropertyPriceChanged(52500000, 49900000, kAgent))),
              IsEmpty());
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.price_changed",
                                      PropertyPriceChanged(52500000, 49900000, 0))),
              IsEmpty());
}

TEST(PropertyTest, AListingLabelUsesWhatIsKnown) {
  json details = PropertyStatusChanged("ACTIVE", "CLOSED", kAgent);
  details["mls_id"] = "";
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.status_changed", details)),
              ElementsAre(Field(&Draft::title, absl::StrCat(kAddress, ": Active → Closed"))));
  details["address"] = "";
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.status_changed", details)),
              ElementsAre(Field(&Draft::title, "Listing 314: Active → Closed")));
  details["mls_id"] = "ML9";
  EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.status_changed", details)),
              ElementsAre(Field(&Draft::title, "MLS ML9: Active → Closed")));
}

TEST(PropertyTest, OtherListingActivitiesTellNobody) {
  EXPECT_THAT(DraftsForAll({
                  PropertyEvent(kAdmin, "property.created",
                                {{"mls_id", "ML81234"},
                                 {"address", kAddress},
                                 {"price_cents", 52500000},
                                 {"status", "ACTIVE"},
                                 {"agent_id", kAgent}}),
                  PropertyEvent(kAdmin, "property.updated",
                                {{"changes", {{"status", {{"old", "ACTIVE"}, {"new", "PENDING"}}}}},
                                 {"mls_id", "ML81234"},
                                 {"agent_id", kAgent}}),
                  Event("properties", "property", 0, kAdmin, "property.imported",
                        {{"created", 12},
                         {"updated", 30},
                         {"unchanged", 100},
                         {"failed", 1},
                         {"rows", 143},
                         {"messages", {"row 7: price must be positive"}},
                         {"seconds", 2.5}}),
              }),
              IsEmpty());
}

// --- user.created / user.role_changed -----------------------------------------

TEST(UserWelcomeTest, TheNewUserIsWelcomed) {
  EXPECT_THAT(
      DraftsFor(UserEvent(kAdmin, "user.created", 23, UserCreated("Ann Agent", "AGENT"))),
      ElementsAre(ToUser(23, "user.welcome", "Welcome to the CRM, Ann Agent",
                         "Your account has been created with the role Agent.", "user", 23)));
  // Bootstrap (the system) creates the first admin.
  EXPECT_THAT(DraftsFor(UserEvent(0, "user.created", 1, UserCreated("", "ADMIN"))),
              ElementsAre(ToUser(1, "user.welcome", "Welcome to the CRM",
                                 "Your account has been created with the role Admin.", "user", 1)));
}

TEST(UserRoleChangedTest, TellsTheUser) {
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.role_changed", 23, RoleChanged("AGENT", "ADMIN"))),
              ElementsAre(ToUser(23, "user.role_changed", "Your role is now Admin",
                                 "Your role changed from Agent to Admin.", "user", 23)));
}

TEST(UserRoleChangedTest, SkipsOwnChangesOtherUpdatesAndOtherShapes) {
  EXPECT_THAT(DraftsFor(UserEvent(23, "user.role_changed", 23, RoleChanged("AGENT", "ADMIN"))),
              IsEmpty());
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.updated", 23,
                                  {{"name", {{"old", "Ann"}, {"new", "Ann Agent"}}}})),
              IsEmpty());
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.role_changed", 23, {{"role", "ADMIN"}})),
              IsEmpty());
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.role_changed", 23, {{"role", {{"new", "ADMIN"}}}})),
              IsEmpty());
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.role_changed", 0, RoleChanged("AGENT", "ADMIN"))),
              IsEmpty());
}

// --- What never notifies ------------------------------------------------------

TEST(DraftsForTest, TheNotificationsServiceNeverNotifies) {
  for (const char* action :
       {"lead.assigned", "user.created", "notification.created", "notifications.read"}) {
    FeedEvent event = LeadEvent(
        kAdmin, action, Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, "")));
    event.service = "notifications";
    EXPECT_THAT(DraftsFor(event), IsEmpty()) << action;
  }
}

TEST(DraftsForTest, AnActionCountsOnlyFromItsOwnService) {
  FeedEvent event =
      LeadEvent(kAdmin, "lead.assigned",
                Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, "")));
  ASSERT_THAT(DraftsFor(event), ElementsAre(Field(&Draft::recipient_id, kAgent)));
  for (const char* service : {"properties", "auth", "audit", "", "LEADS"}) {
    event.service = service;
    EXPECT_THAT(DraftsFor(event), IsEmpty()) << service;
  }
}

TEST(DraftsForTest, UnknownActionsTellNobody) {
  const json details = Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, ""));
  for (const char* action : {"lead.deleted", "lead.inquiry", "lead.updated", "lead.restored",
                             "LEAD.ASSIGNED", "lead.assigned ", "", "lead"}) {
    EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, action, details)), IsEmpty()) << action;
  }
  EXPECT_THAT(DraftsFor(UserEvent(kAdmin, "user.deactivated", 23, {{"active", {{"old", true}}}})),
              IsEmpty());
}

TEST(DraftsForTest, DetailsThatAreNotAJsonObjectTellNobody) {
  FeedEvent event =
      LeadEvent(kAdmin, "lead.assigned",
                Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, "")));
  const std::string good = event.details_json;  // {"agent_id":7,...,"source":"zillow"}
  ASSERT_THAT(DraftsFor(event), SizeIs(1));
  const auto with = [&good](absl::string_view from, absl::string_view to) {
    std::string text = absl::StrReplaceAll(good, {{from, to}});
    EXPECT_NE(text, good) << from;
    return text;
  };
  for (const std::string& text : std::vector<std::string>{
           "", good.substr(0, good.size() - 1),   // cut short
           absl::StrCat(good, " trailing"),       // more after the object
           with("\"zillow\"}", "\"zillow\",}"),   // trailing comma
           with("\"agent_id\":", "agent_id:"),    // unquoted key
           with("Jane Doe", "Jane \xC3 Doe"),     // not UTF-8
           with("Jane Doe", "Jane \\ud800 Doe"),  // a lone surrogate escape
           absl::StrCat("[", good, "]"),          // an array holding the object
           "null", "42", "\"text\"", "not json", std::string(1, '\0'),
           Repeat("[", 100000),  // deep nesting, unterminated
       }) {
    event.details_json = text;
    EXPECT_THAT(DraftsFor(event), IsEmpty()) << text.substr(0, 80);
  }
}

TEST(DraftsForTest, FieldsOfTheWrongTypeTellNobody) {
  const json good = Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, ""));
  ASSERT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.assigned", good)), SizeIs(1));
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"agent_id", "7"},
                                                 {"agent_id", 7.5},
                                                 {"agent_id", nullptr},
                                                 {"agent_id", true},
                                                 {"agent_id", json::array({7})},
                                                 {"agent_id", 18446744073709551615u},
                                                 {"name", 42},
                                                 {"name", nullptr},
                                                 {"name", json::object()},
                                                 {"source", false}}) {
    json details = good;
    details[key] = value;
    EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.assigned", details)), IsEmpty())
        << key << "=" << value.dump();
  }
  // Cents as text, as a float, or past int64 (which must not wrap to a negative price).
  for (const json& cents : {json("52500000"), json(525000.5), json(18446744073709551615u)}) {
    json details = PropertyPriceChanged(52500000, 49900000, kAgent);
    details["new_cents"] = cents;
    EXPECT_THAT(DraftsFor(PropertyEvent(kAdmin, "property.price_changed", details)), IsEmpty())
        << cents.dump();
  }
}

// Each rule's required fields, one at a time: without it, no draft (and no crash).
TEST(DraftsForTest, AMissingFieldTellsNobody) {
  struct Case {
    FeedEvent event;
    std::vector<std::string> required;
  };
  const std::vector<Case> cases = {
      {LeadEvent(kAdmin, "lead.assigned",
                 Assigned(kAgent, 0, "Jane Doe", "zillow", Routing("manual", kAgent, "x"))),
       {"agent_id", "name", "source"}},
      {LeadEvent(kAgent, "lead.claimed", Claimed(kAgent, "Jane Doe", "zillow")),
       {"agent_id", "name"}},
      {LeadEvent(kAdmin, "lead.created", LeadSummary("Jane Doe", "web_form", 0)),
       {"assigned_to", "name", "source"}},
      {LeadEvent(
           kIntegration, "lead.captured",
           Captured("Jane Doe", "zillow", "Hi", Routing("round_robin", 0, "no active agent"))),
       {"assigned_to", "name", "source"}},
      {LeadEvent(kAdmin, "lead.status_changed",
                 LeadStatusChanged("NEW", "CONTACTED", "Jane Doe", kAgent)),
       {"old", "new", "name", "assigned_to"}},
      {PropertyEvent(kAdmin, "property.status_changed",
                     PropertyStatusChanged("ACTIVE", "PENDING", kAgent)),
       {"old", "new", "mls_id", "address", "agent_id"}},
      {PropertyEvent(kAdmin, "property.price_changed",
                     PropertyPriceChanged(52500000, 49900000, kAgent)),
       {"old_cents", "new_cents", "mls_id", "address", "agent_id"}},
      {UserEvent(kAdmin, "user.created", 23, UserCreated("Ann Agent", "AGENT")), {"name", "role"}},
      {UserEvent(kAdmin, "user.role_changed", 23, RoleChanged("AGENT", "ADMIN")), {"role"}},
  };
  for (const Case& c : cases) {
    ASSERT_THAT(DraftsFor(c.event), SizeIs(1)) << c.event.action;
    for (const std::string& key : c.required) {
      json details = json::parse(c.event.details_json);
      details.erase(key);
      FeedEvent event = c.event;
      event.details_json = details.dump();
      EXPECT_THAT(DraftsFor(event), IsEmpty()) << c.event.action << " without " << key;
    }
    FeedEvent empty = c.event;
    empty.details_json = "{}";
    EXPECT_THAT(DraftsFor(empty), IsEmpty()) << c.event.action << " with {}";
  }
}

// --- Text limits ------------------------------------------------------------------

TEST(DraftTextTest, ALongTitleIsCutAtACodePoint) {
  // 10 + 300 characters: cut to 199 and "…", never inside a two-byte "é".
  const std::vector<Draft> drafts =
      DraftsFor(LeadEvent(kAdmin, "lead.created", LeadSummary(Repeat("é", 300), "zillow", 0)));
  ASSERT_THAT(drafts, SizeIs(1));
  EXPECT_EQ(drafts[0].title, absl::StrCat("Unassigned lead: ", Repeat("é", 182), "…"));
  EXPECT_EQ(fields::Utf8Length(drafts[0].title), kMaxTitleCharacters);

  // Four-byte characters, and a title of exactly 200 is left whole.
  for (int n : {189, 190, 191, 500}) {
    const std::vector<Draft> emoji = DraftsFor(
        LeadEvent(kAdmin, "lead.assigned",
                  Assigned(kAgent, 0, Repeat("😀", n), "", Routing("manual", kAgent, ""))));
    ASSERT_THAT(emoji, SizeIs(1));
    const std::string& title = emoji[0].title;
    EXPECT_EQ(fields::Utf8Length(title), std::min<size_t>(10 + n, kMaxTitleCharacters)) << n;
    if (n <= 190) {
      EXPECT_EQ(title, absl::StrCat("New lead: ", Repeat("😀", n))) << n;
    } else {
      EXPECT_EQ(title, absl::StrCat("New lead: ", Repeat("😀", 189), "…")) << n;
    }
  }
}

TEST(DraftTextTest, ALongMessageIsCutAtACodePointAndKeepsItsLines) {
  const std::string inquiry = Repeat("Ünïcödé line\n", 400);  // 13 × 400 = 5200 characters
  const std::vector<Draft> drafts = DraftsFor(LeadEvent(
      kIntegration, "lead.assigned",
      AssignedByCapture("Jane Doe", "zillow", inquiry, Routing("round_robin", kAgent, "next"))));
  ASSERT_THAT(drafts, SizeIs(1));
  EXPECT_EQ(fields::Utf8Length(drafts[0].message), kMaxMessageCharacters);
  // 3999 characters = 307 whole lines and 8 more, then "…".
  EXPECT_EQ(drafts[0].message, absl::StrCat(Repeat("Ünïcödé line\n", 307), "Ünïcödé ", "…"));
}

TEST(DraftTextTest, ControlCharactersBecomeSpacesAndATitleIsOneLine) {
  // \t, \r\n, DEL, U+0085 (C1 NEXT LINE), U+2028 LINE SEPARATOR, and NUL (JSON's \u0000).
  const std::string name = std::string("Jane\tDoe\r\nJr\x7F\xC2\x85X\xE2\x80\xA8Y") + '\0' + "Z";
  const std::string inquiry =
      std::string("Line 1\nLine\t2\r\nbell\x07 del\x7F c1\xC2\x9F sep\xE2\x80\xA8") + '\0' + "end";
  const std::vector<Draft> drafts = DraftsFor(LeadEvent(
      kIntegration, "lead.assigned",
      AssignedByCapture(name, "zillow", inquiry, Routing("round_robin", kAgent, "next"))));
  ASSERT_THAT(drafts, SizeIs(1));
  EXPECT_EQ(drafts[0].title, "New lead: Jane Doe  Jr  X Y Z from zillow");
  EXPECT_EQ(drafts[0].message, "Line 1\nLine 2 \nbell  del  c1  sep\xE2\x80\xA8 end");
  EXPECT_FALSE(fields::ScanUtf8(drafts[0].title).control);
  // Names that are fine are left as they are.
  EXPECT_THAT(
      DraftsFor(LeadEvent(kAdmin, "lead.created", LeadSummary("José Núñez 李", "zillow", 0))),
      ElementsAre(Field(&Draft::title, "Unassigned lead: José Núñez 李 from zillow")));
}

TEST(DraftTextTest, AnEmptyNameStillReadsAsATitle) {
  EXPECT_THAT(DraftsFor(LeadEvent(kAdmin, "lead.created", LeadSummary("", "zillow", 0))),
              ElementsAre(Field(&Draft::title, "Unassigned lead: (no name) from zillow")));
}

// The consumer asks audit only for these actions: an action that some rule
// follows but this list missed would never notify anyone.
TEST(RuleActionsTest, ListEveryFollowedActionOnce) {
  EXPECT_THAT(RuleActions(), ::testing::UnorderedElementsAre(
                                 "lead.assigned", "lead.claimed", "lead.created", "lead.captured",
                                 "lead.status_changed", "property.status_changed",
                                 "property.price_changed", "user.created", "user.role_changed"));
}

}  // namespace
}  // namespace crm::notifications
