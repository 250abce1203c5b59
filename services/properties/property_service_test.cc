// PropertyService end to end: the real crm-properties and crm-auth binaries
// on a throwaway PostgreSQL cluster.

#include <algorithm>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/domain_service_test.h"
#include "common/testing/outbox_events.h"
#include "common/testing/test_auth.h"
#include "common/testing/test_calls.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crm::properties {
namespace {

using ::crm::testing::TestUser;
using json = nlohmann::json;
namespace pv1 = ::crm::properties::v1;
namespace av1 = ::crm::auth::v1;

constexpr char kPropertiesSecret[] = "properties-service-account-secret";
constexpr char kFeedSecret[] = "mls-feed-service-account-secret";

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  return crm::testing::CallContext(token);
}

pv1::Property Listing(const std::string& mls_id, int64_t price_cents,
                      const std::string& city = "Springfield") {
  pv1::Property p;
  p.set_mls_id(mls_id);
  p.mutable_address()->set_street(absl::StrCat(mls_id.size(), " Maple St"));
  p.mutable_address()->set_city(city);
  p.mutable_address()->set_state_or_province("IL");
  p.mutable_address()->set_postal_code("62701");
  p.set_price_cents(price_cents);
  p.set_property_type(pv1::PROPERTY_TYPE_RESIDENTIAL);
  p.set_bedrooms(3);
  return p;
}

class PropertyServiceTest : public crm::testing::DomainServiceTest {
 protected:
  PropertyServiceTest()
      : DomainServiceTest("properties",
                          {{"properties", kPropertiesSecret}, {"mlsfeed", kFeedSecret}}) {}

  void ServiceStarted() override { stub_ = pv1::PropertyService::NewStub(service().channel()); }

  TestUser User(const std::string& name, av1::Role role) {
    absl::StatusOr<TestUser> user = auth().CreateUser(name, role);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : TestUser{};
  }

  grpc::Status Create(const TestUser& caller, const pv1::Property& listing,
                      pv1::Property* out = nullptr, const std::string& request_id = "") {
    pv1::CreatePropertyRequest request;
    *request.mutable_property() = listing;
    request.set_request_id(request_id);
    pv1::CreatePropertyResponse response;
    grpc::Status status = stub_->CreateProperty(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.property();
    }
    return status;
  }

  grpc::Status Get(const TestUser& caller, int64_t id, pv1::Property* out = nullptr) {
    pv1::GetPropertyRequest request;
    request.set_id(id);
    pv1::GetPropertyResponse response;
    grpc::Status status = stub_->GetProperty(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.property();
    }
    return status;
  }

  grpc::Status Update(const TestUser& caller, const pv1::Property& listing,
                      std::vector<std::string> paths, pv1::Property* out = nullptr,
                      int64_t version = 0) {
    pv1::UpdatePropertyRequest request;
    *request.mutable_property() = listing;
    for (const std::string& path : paths) {
      request.mutable_update_mask()->add_paths(path);
    }
    request.set_version(version);
    pv1::UpdatePropertyResponse response;
    grpc::Status status = stub_->UpdateProperty(Context(caller.token).get(), request, &response);
    if (out != nullptr) {
      *out = response.property();
    }
    return status;
  }

  // Every page of `request` as `caller`: the listings' ids in the order given.
  std::vector<int64_t> AllPages(const TestUser& caller, pv1::ListPropertiesRequest request,
                                int* pages = nullptr) {
    std::vector<int64_t> ids;
    int count = 0;
    do {
      pv1::ListPropertiesResponse response;
      grpc::Status status = stub_->ListProperties(Context(caller.token).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) {
        break;
      }
      for (const pv1::Property& p : response.properties()) {
        ids.push_back(p.id());
      }
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty() && ++count < 1000);
    if (pages != nullptr) {
      *pages = count + 1;
    }
    return ids;
  }

  // One import: each batch a message; `cancel_after` messages written, the
  // call is cancelled once their rows are stored instead of half-closed.
  grpc::Status Import(const TestUser& caller,
                      const std::vector<std::vector<pv1::Property>>& batches,
                      pv1::ImportPropertiesResponse* response, const std::string& request_id = "") {
    auto context = Context(caller.token);
    auto writer = stub_->ImportProperties(context.get(), response);
    bool first = true;
    for (const std::vector<pv1::Property>& batch : batches) {
      pv1::ImportPropertiesRequest request;
      for (const pv1::Property& p : batch) {
        *request.add_properties() = p;
      }
      if (first) {
        request.set_request_id(request_id);
        first = false;
      }
      if (!writer->Write(request)) {
        break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  std::vector<std::pair<std::string, json>> Events(int64_t id) {
    return crm::testing::OutboxEvents(dsn_, id);
  }

  std::vector<std::string> Actions(int64_t id) { return crm::testing::OutboxActions(dsn_, id); }

  std::unique_ptr<pv1::PropertyService::Stub> stub_;
};

TEST_F(PropertyServiceTest, CreateChecksEachFieldOwnershipAndBothUniqueKeys) {
  const TestUser agent = User("ana", av1::ROLE_AGENT);
  const TestUser other = User("ben", av1::ROLE_AGENT);
  const TestUser client = User("cat", av1::ROLE_CLIENT);
  struct Case {
    std::string field;
    void (*spoil)(pv1::Property&);
  };
  const std::vector<Case> cases = {
      {"property.mls_id", [](pv1::Property& p) { p.set_mls_id(""); }},
      {"property.mls_id", [](pv1::Property& p) { p.set_mls_id("has space"); }},
      {"property.address.street", [](pv1::Property& p) { p.mutable_address()->clear_street(); }},
      {"property.address.city", [](pv1::Property& p) { p.mutable_address()->set_city(" "); }},
      {"property.price_cents", [](pv1::Property& p) { p.set_price_cents(-1); }},
      {"property.status",
       [](pv1::Property& p) { p.set_status(static_cast<pv1::PropertyStatus>(99)); }},
      {"property.latitude",
       [](pv1::Property& p) {
         p.set_latitude(91);
         p.set_longitude(0);
       }},
      {"property.longitude", [](pv1::Property& p) { p.set_latitude(40); }},
      {"property.list_date", [](pv1::Property& p) { p.set_list_date("2026-13-01"); }},
      {"property.listing_key", [](pv1::Property& p) { p.set_originating_system_name("CRMLS"); }},
  };
  for (const Case& c : cases) {
    pv1::Property p = Listing("ML-BAD", 100);
    c.spoil(p);
    grpc::Status status = Create(admin_, p);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(c.field)) << status.error_message();
  }
  // An agent's listing is its own; it may not create one for someone else.
  pv1::Property mine;
  ASSERT_TRUE(Create(agent, Listing("ML-1", 52'500'001), &mine).ok());
  EXPECT_EQ(mine.agent_id(), agent.id);
  EXPECT_EQ(mine.status(), pv1::PROPERTY_STATUS_ACTIVE);
  EXPECT_EQ(mine.price_cents(), 52'500'001);  // $525,000.01, exact
  EXPECT_EQ(mine.address().country(), "US");
  EXPECT_EQ(mine.version(), 1);
  EXPECT_TRUE(mine.has_status_change_timestamp());
  pv1::Property for_other = Listing("ML-2", 100);
  for_other.set_agent_id(other.id);
  EXPECT_EQ(Create(agent, for_other).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Create(client, Listing("ML-3", 100)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An admin names an active agent or admin: not a client, not a deactivated agent.
  pv1::Property for_client = Listing("ML-4", 100);
  for_client.set_agent_id(client.id);
  EXPECT_EQ(Create(admin_, for_client).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pv1::Property assigned;
  ASSERT_TRUE(Create(admin_, for_other, &assigned).ok());
  EXPECT_EQ(assigned.agent_id(), other.id);
  ASSERT_TRUE(auth().Deactivate(other.id).ok());
  absl::SleepFor(absl::Milliseconds(1100));  // --directory_cache_seconds=1
  pv1::Property for_gone = Listing("ML-5", 100);
  for_gone.set_agent_id(other.id);
  EXPECT_EQ(Create(admin_, for_gone).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // mls_id is unique, deleted listings included; so is (system, key).
  EXPECT_EQ(Create(admin_, Listing("ML-1", 1)).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  pv1::Property keyed = Listing("ML-6", 100);
  keyed.set_listing_key("3yd-CRMLS-1");
  keyed.set_originating_system_name("CRMLS");
  ASSERT_TRUE(Create(admin_, keyed).ok());
  keyed.set_mls_id("ML-7");
  grpc::Status same_key = Create(admin_, keyed);
  EXPECT_EQ(same_key.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(same_key.error_message(), ::testing::HasSubstr("listing_key"));
  keyed.set_originating_system_name("MRED");  // the same key in another MLS is another record
  EXPECT_TRUE(Create(admin_, keyed).ok());
  pv1::DeletePropertyRequest del;
  del.set_id(mine.id());
  pv1::DeletePropertyResponse deleted;
  ASSERT_TRUE(stub_->DeleteProperty(Context(agent.token).get(), del, &deleted).ok());
  EXPECT_EQ(Create(admin_, Listing("ML-1", 1)).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(Actions(mine.id()), ::testing::ElementsAre("property.created", "property.deleted"));
  // A retried create with its request_id answers the first result.
  pv1::Property first;
  pv1::Property again;
  ASSERT_TRUE(Create(admin_, Listing("ML-8", 100), &first, "create-ml-8").ok());
  ASSERT_TRUE(Create(admin_, Listing("ML-8", 100), &again, "create-ml-8").ok());
  EXPECT_EQ(first.id(), again.id());
}

TEST_F(PropertyServiceTest, ClientsSeeOnlyListingsOnTheMarket) {
  const TestUser client = User("cat", av1::ROLE_CLIENT);
  const TestUser service = [&] {
    absl::StatusOr<TestUser> s = auth().CreateUser("svc", av1::ROLE_AGENT);
    return s.ok() ? *s : TestUser{};
  }();
  std::map<pv1::PropertyStatus, int64_t> ids;
  for (int s = pv1::PROPERTY_STATUS_ACTIVE; s <= pv1::PROPERTY_STATUS_INCOMPLETE; ++s) {
    pv1::Property p = Listing(absl::StrCat("ML-S", s), 1000 * s);
    p.set_status(static_cast<pv1::PropertyStatus>(s));
    pv1::Property created;
    ASSERT_TRUE(Create(admin_, p, &created).ok());
    ids[static_cast<pv1::PropertyStatus>(s)] = created.id();
  }
  const std::set<pv1::PropertyStatus> visible = {pv1::PROPERTY_STATUS_ACTIVE,
                                                 pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT,
                                                 pv1::PROPERTY_STATUS_COMING_SOON};
  std::set<int64_t> expected;
  for (const auto& [status, id] : ids) {
    EXPECT_EQ(Get(client, id).error_code(),
              visible.contains(status) ? grpc::StatusCode::OK : grpc::StatusCode::NOT_FOUND)
        << status;
    EXPECT_TRUE(Get(service, id).ok());
    if (visible.contains(status)) {
      expected.insert(id);
    }
  }
  const std::vector<int64_t> listed = AllPages(client, pv1::ListPropertiesRequest());
  EXPECT_EQ(std::set<int64_t>(listed.begin(), listed.end()), expected);
  pv1::ListPropertiesRequest closed;
  closed.add_statuses(pv1::PROPERTY_STATUS_CLOSED);
  EXPECT_THAT(AllPages(client, closed), ::testing::IsEmpty());
  EXPECT_THAT(AllPages(admin_, closed), ::testing::ElementsAre(ids[pv1::PROPERTY_STATUS_CLOSED]));
  pv1::GetPropertyRequest by_mls;
  by_mls.set_mls_id("ML-S1");
  pv1::GetPropertyResponse got;
  ASSERT_TRUE(stub_->GetProperty(Context(client.token).get(), by_mls, &got).ok());
  EXPECT_EQ(got.property().id(), ids[pv1::PROPERTY_STATUS_ACTIVE]);
  by_mls.set_mls_id("ML-S5");  // closed
  EXPECT_EQ(stub_->GetProperty(Context(client.token).get(), by_mls, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pv1::GetPropertyRequest neither;
  EXPECT_EQ(stub_->GetProperty(Context(client.token).get(), neither, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PropertyServiceTest, UpdateChecksOwnerAndVersionStampsChangesAndWritesOldAndNew) {
  const TestUser agent = User("ana", av1::ROLE_AGENT);
  const TestUser other = User("ben", av1::ROLE_AGENT);
  pv1::Property listing;
  ASSERT_TRUE(Create(agent, Listing("ML-U", 50'000'000), &listing).ok());
  const auto stamped_at = listing.status_change_timestamp();
  // No change, no write: same version, no event.
  pv1::Property same;
  ASSERT_TRUE(Update(agent, listing, {"price_cents", "address.city"}, &same).ok());
  EXPECT_EQ(same.version(), 1);
  EXPECT_THAT(Actions(listing.id()), ::testing::ElementsAre("property.created"));
  // A price change stamps price_change_timestamp and says old and new.
  pv1::Property cheaper = listing;
  cheaper.set_price_cents(48'000'000);
  cheaper.set_description("Price improved!");
  pv1::Property updated;
  ASSERT_TRUE(Update(agent, cheaper, {"price_cents"}, &updated, 1).ok());
  EXPECT_EQ(updated.version(), 2);
  EXPECT_EQ(updated.price_cents(), 48'000'000);
  EXPECT_EQ(updated.description(), "");  // not in the mask
  EXPECT_GT(updated.price_change_timestamp().seconds() * 1000000000LL +
                updated.price_change_timestamp().nanos(),
            stamped_at.seconds() * 1000000000LL + stamped_at.nanos() - 1);
  EXPECT_EQ(updated.status_change_timestamp().SerializeAsString(), stamped_at.SerializeAsString());
  // A stale version, someone else's listing, a reassignment by an agent.
  EXPECT_EQ(Update(agent, cheaper, {"description"}, nullptr, 1).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(Update(other, cheaper, {"description"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  pv1::Property reassigned = listing;
  reassigned.set_agent_id(other.id);
  EXPECT_EQ(Update(agent, reassigned, {"agent_id"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Update(agent, cheaper, {"version"}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Update(agent, cheaper, {}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pv1::Property bad_city = listing;
  bad_city.mutable_address()->set_city("");
  grpc::Status city = Update(agent, bad_city, {"address"});
  EXPECT_EQ(city.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(city.error_message(), ::testing::StartsWith("property.address.city"));
  // The admin moves it under contract and to the other agent.
  pv1::Property under_contract = listing;
  under_contract.set_status(pv1::PROPERTY_STATUS_PENDING);
  under_contract.set_agent_id(other.id);
  ASSERT_TRUE(Update(admin_, under_contract, {"status", "agent_id"}, &updated).ok());
  EXPECT_EQ(updated.status(), pv1::PROPERTY_STATUS_PENDING);
  EXPECT_EQ(updated.agent_id(), other.id);
  EXPECT_NE(updated.status_change_timestamp().SerializeAsString(), stamped_at.SerializeAsString());
  const auto events = Events(listing.id());
  std::vector<std::string> actions;
  for (const auto& [action, details] : events) {
    actions.push_back(action);
  }
  EXPECT_THAT(actions, ::testing::ElementsAre("property.created", "property.updated",
                                              "property.price_changed", "property.updated",
                                              "property.status_changed"));
  EXPECT_EQ(events[1].second["changes"]["price_cents"]["old"], 50'000'000);
  EXPECT_EQ(events[1].second["changes"]["price_cents"]["new"], 48'000'000);
  EXPECT_EQ(events[2].second["old_cents"], 50'000'000);
  EXPECT_EQ(events[4].second["old"], "ACTIVE");
  EXPECT_EQ(events[4].second["new"], "PENDING");
  EXPECT_EQ(events[4].second["agent_id"], other.id);
  // An mls_id in use.
  ASSERT_TRUE(Create(admin_, Listing("ML-TAKEN", 1)).ok());
  pv1::Property rename = listing;
  rename.set_mls_id("ML-TAKEN");
  EXPECT_EQ(Update(admin_, rename, {"mls_id"}).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

// Every order and filter pages through each matching listing exactly once,
// in its order, also while listings change between pages.
TEST_F(PropertyServiceTest, EveryOrderAndFilterPagesEachListingOnce) {
  struct Made {
    int64_t id;
    int64_t price;
    std::string city;
    int32_t bedrooms;
    double latitude;
  };
  std::vector<Made> made;
  const std::vector<std::string> cities = {"Springfield", "Shelbyville", "Capital City"};
  for (int i = 0; i < 24; ++i) {
    // Prices tie in pairs, so the id breaks ties.
    pv1::Property p = Listing(absl::StrCat("ML-L", i), 100'000 * (i / 2 + 1), cities[i % 3]);
    p.set_bedrooms(i % 5);
    p.set_latitude(40.0 + i * 0.01);
    p.set_longitude(-89.0);
    if (i % 4 == 0) {
      p.set_description("Sunny corner lot with a MAPLE tree");
    }
    pv1::Property created;
    ASSERT_TRUE(Create(admin_, p, &created).ok());
    made.push_back({created.id(), p.price_cents(), p.address().city(), p.bedrooms(), p.latitude()});
  }
  const auto ids_where = [&](auto keep) {
    std::vector<int64_t> ids;
    for (const Made& m : made) {
      if (keep(m)) {
        ids.push_back(m.id);
      }
    }
    return ids;
  };
  pv1::ListPropertiesRequest newest;
  newest.set_page_size(5);
  int pages = 0;
  std::vector<int64_t> expected = ids_where([](const Made&) { return true; });
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(AllPages(admin_, newest, &pages), expected);
  EXPECT_EQ(pages, 5);
  // Price ascending: ties by id ascending; descending the reverse.
  pv1::ListPropertiesRequest cheap_first = newest;
  cheap_first.set_order_by(pv1::PROPERTY_ORDER_PRICE_ASCENDING);
  std::vector<Made> by_price = made;
  std::sort(by_price.begin(), by_price.end(), [](const Made& a, const Made& b) {
    return std::pair(a.price, a.id) < std::pair(b.price, b.id);
  });
  std::vector<int64_t> ascending;
  for (const Made& m : by_price) {
    ascending.push_back(m.id);
  }
  EXPECT_EQ(AllPages(admin_, cheap_first), ascending);
  pv1::ListPropertiesRequest dear_first = newest;
  dear_first.set_order_by(pv1::PROPERTY_ORDER_PRICE_DESCENDING);
  EXPECT_EQ(AllPages(admin_, dear_first),
            std::vector<int64_t>(ascending.rbegin(), ascending.rend()));
  // Filters, each against the same rule computed here.
  pv1::ListPropertiesRequest range = cheap_first;
  range.set_min_price_cents(300'000);
  range.set_max_price_cents(600'000);
  range.set_city("springfield");  // case-insensitive
  std::vector<int64_t> in_range;
  for (const Made& m : by_price) {
    if (m.price >= 300'000 && m.price <= 600'000 && m.city == "Springfield") {
      in_range.push_back(m.id);
    }
  }
  EXPECT_EQ(AllPages(admin_, range), in_range);
  pv1::ListPropertiesRequest rooms = newest;
  rooms.set_min_bedrooms(3);
  std::vector<int64_t> roomy = ids_where([](const Made& m) { return m.bedrooms >= 3; });
  std::reverse(roomy.begin(), roomy.end());
  EXPECT_EQ(AllPages(admin_, rooms), roomy);
  pv1::ListPropertiesRequest text = newest;
  text.set_query("maple tree");
  std::vector<int64_t> maples;
  for (int i = 23; i >= 0; --i) {
    if (i % 4 == 0) {
      maples.push_back(made[i].id);
    }
  }
  EXPECT_EQ(AllPages(admin_, text), maples);
  // Words in any order, each a prefix, any case.
  text.set_query("TREE mapl");
  EXPECT_EQ(AllPages(admin_, text), maples);
  // Under every order, paged: a page of a free-text query is cut from all
  // its matches.
  pv1::ListPropertiesRequest dear_maples = text;
  dear_maples.set_order_by(pv1::PROPERTY_ORDER_PRICE_DESCENDING);
  dear_maples.set_page_size(2);
  std::vector<int64_t> maples_by_price;
  for (auto it = by_price.rbegin(); it != by_price.rend(); ++it) {
    if (std::find(maples.begin(), maples.end(), it->id) != maples.end()) {
      maples_by_price.push_back(it->id);
    }
  }
  EXPECT_EQ(AllPages(admin_, dear_maples), maples_by_price);
  pv1::ListPropertiesRequest changed_maples = text;
  changed_maples.set_order_by(pv1::PROPERTY_ORDER_RECENTLY_CHANGED);
  changed_maples.set_page_size(2);
  EXPECT_EQ(AllPages(admin_, changed_maples), maples);  // none changed since created
  // The MLS id's parts are words too: "ML-L2" is ML-L2 and ML-L20..ML-L23.
  text.set_query("ML-L2");
  std::vector<int64_t> l2 = {made[23].id, made[22].id, made[21].id, made[20].id, made[2].id};
  EXPECT_EQ(AllPages(admin_, text), l2);
  text.set_query("%' & !:*");  // no word, and nothing of it reaches SQL as syntax
  pv1::ListPropertiesResponse no_word;
  EXPECT_EQ(stub_->ListProperties(Context(admin_.token).get(), text, &no_word).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  pv1::ListPropertiesRequest box = newest;
  box.set_min_latitude(40.05);
  box.set_max_latitude(40.10);  // edges included: i = 5..10
  box.set_min_longitude(-89.5);
  box.set_max_longitude(-88.5);
  std::vector<int64_t> boxed = ids_where(
      [](const Made& m) { return m.latitude >= 40.05 - 1e-9 && m.latitude <= 40.10 + 1e-9; });
  std::reverse(boxed.begin(), boxed.end());
  EXPECT_EQ(AllPages(admin_, box), boxed);
  pv1::ListPropertiesRequest half_box = newest;
  half_box.set_min_latitude(1);
  pv1::ListPropertiesResponse refused;
  EXPECT_EQ(stub_->ListProperties(Context(admin_.token).get(), half_box, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Recently changed, while listings change between pages: a listing changed
  // after its page was read moves to the front (a later walk sees it), and
  // none is returned twice within this walk.
  pv1::ListPropertiesRequest changed = newest;
  changed.set_order_by(pv1::PROPERTY_ORDER_RECENTLY_CHANGED);
  std::set<int64_t> seen;
  int touched = 0;
  do {
    pv1::ListPropertiesResponse response;
    ASSERT_TRUE(stub_->ListProperties(Context(admin_.token).get(), changed, &response).ok());
    for (const pv1::Property& p : response.properties()) {
      EXPECT_TRUE(seen.insert(p.id()).second) << "twice: " << p.id();
    }
    if (!response.properties().empty()) {
      pv1::Property bump = response.properties(0);
      bump.set_description(absl::StrCat("touched ", touched++));
      ASSERT_TRUE(Update(admin_, bump, {"description"}).ok());
    }
    changed.set_page_token(response.next_page_token());
  } while (!changed.page_token().empty());
  EXPECT_EQ(seen.size(), made.size());
  // A token is bound to its query.
  pv1::ListPropertiesRequest first = newest;
  pv1::ListPropertiesResponse page;
  ASSERT_TRUE(stub_->ListProperties(Context(admin_.token).get(), first, &page).ok());
  first.set_page_token(page.next_page_token());
  first.set_order_by(pv1::PROPERTY_ORDER_PRICE_ASCENDING);
  EXPECT_EQ(stub_->ListProperties(Context(admin_.token).get(), first, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// GetProperty and ListProperties answer from the pipelined reader; with
// --db_read_connections=0 from the pool. Both answer alike.
TEST_F(PropertyServiceTest, ReadsAnswerAlikeWithoutThePipelinedReader) {
  const TestUser client = User("carla", av1::ROLE_CLIENT);
  pv1::Property active, closed;
  ASSERT_TRUE(Create(admin_, Listing("ML-RA", 500'000'00, "Springfield"), &active).ok());
  pv1::Property sold = Listing("ML-RC", 400'000'00, "Springfield");
  sold.set_status(pv1::PROPERTY_STATUS_CLOSED);
  ASSERT_TRUE(Create(admin_, sold, &closed).ok());
  for (const bool pipelined : {true, false}) {
    if (!pipelined) {
      StartService({"--db_read_connections=0"});
    }
    pv1::Property seen;
    ASSERT_TRUE(Get(client, active.id(), &seen).ok()) << pipelined;
    EXPECT_EQ(seen.mls_id(), "ML-RA");
    EXPECT_EQ(Get(client, closed.id()).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Get(admin_, 999'999).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Get(admin_, -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    pv1::GetPropertyRequest by_mls;
    by_mls.set_mls_id("ML-RC");
    pv1::GetPropertyResponse got;
    ASSERT_TRUE(stub_->GetProperty(Context(admin_.token).get(), by_mls, &got).ok());
    EXPECT_EQ(got.property().id(), closed.id());
    EXPECT_EQ(stub_->GetProperty(Context(client.token).get(), by_mls, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
    pv1::ListPropertiesRequest list;
    list.set_city("SPRINGFIELD");
    list.set_max_price_cents(450'000'00);
    EXPECT_EQ(AllPages(admin_, list), std::vector<int64_t>{closed.id()}) << pipelined;
    EXPECT_TRUE(AllPages(client, list).empty());
    list.clear_max_price_cents();
    EXPECT_EQ(AllPages(client, list), std::vector<int64_t>{active.id()});
    EXPECT_EQ(AllPages(admin_, list), (std::vector<int64_t>{closed.id(), active.id()}));
  }
}

// A free-text page comes from a walk of the listings next in its order when
// enough of them match, else from the words' index: pages must be the same
// either way, whatever the walk's size, in every order, on both read paths.
TEST_F(PropertyServiceTest, FreeTextPagesAreTheSameFromTheWalkAndFromTheIndex) {
  struct Made {
    int64_t id;
    int64_t price;
    bool common;
    bool rare;
  };
  std::vector<Made> made;
  for (int i = 0; i < 30; ++i) {
    // Prices tie in threes; "home" in most listings, "pool" in a few, the
    // newest of them far from each other.
    pv1::Property p = Listing(absl::StrCat("ML-W", i), 100'000 * (i / 3 + 1));
    const bool common = i % 5 != 0;
    const bool rare = i % 11 == 0;
    p.set_description(absl::StrCat(common ? "Bright home" : "Bright", rare ? " with a pool" : ""));
    pv1::Property created;
    ASSERT_TRUE(Create(admin_, p, &created).ok());
    made.push_back({created.id(), p.price_cents(), common, rare});
  }
  auto expected = [&](bool Made::*word, pv1::PropertyOrder order) {
    std::vector<Made> kept;
    for (const Made& m : made) {
      if (m.*word) {
        kept.push_back(m);
      }
    }
    std::sort(kept.begin(), kept.end(), [&](const Made& a, const Made& b) {
      if (order == pv1::PROPERTY_ORDER_PRICE_ASCENDING) {
        return std::pair(a.price, a.id) < std::pair(b.price, b.id);
      }
      if (order == pv1::PROPERTY_ORDER_PRICE_DESCENDING) {
        return std::pair(a.price, a.id) > std::pair(b.price, b.id);
      }
      return a.id > b.id;  // newest; recently changed too (none changed since)
    });
    std::vector<int64_t> ids;
    for (const Made& m : kept) {
      ids.push_back(m.id);
    }
    return ids;
  };
  for (const char* walk : {"0", "3", "500"}) {
    for (const bool pipelined : {true, false}) {
      std::vector<std::string> flags = {absl::StrCat("--free_text_walk_rows=", walk)};
      if (!pipelined) {
        flags.push_back("--db_read_connections=0");
      }
      StartService(flags);
      for (const pv1::PropertyOrder order :
           {pv1::PROPERTY_ORDER_NEWEST, pv1::PROPERTY_ORDER_PRICE_ASCENDING,
            pv1::PROPERTY_ORDER_PRICE_DESCENDING, pv1::PROPERTY_ORDER_RECENTLY_CHANGED}) {
        for (const int page_size : {2, 5, 50}) {
          pv1::ListPropertiesRequest request;
          request.set_order_by(order);
          request.set_page_size(page_size);
          request.set_query("HOM");
          EXPECT_EQ(AllPages(admin_, request), expected(&Made::common, order))
              << "walk " << walk << (pipelined ? " pipelined" : " pool") << " order " << order
              << " page " << page_size;
          request.set_query("pool bright");
          EXPECT_EQ(AllPages(admin_, request), expected(&Made::rare, order))
              << "walk " << walk << (pipelined ? " pipelined" : " pool") << " order " << order
              << " page " << page_size;
        }
      }
      // A word with a digit goes straight to the index: ML-W1, ML-W10..19.
      pv1::ListPropertiesRequest by_id;
      by_id.set_query("ml-w1");
      by_id.set_page_size(3);
      std::vector<int64_t> ones;
      for (int i = 19; i >= 10; --i) {
        ones.push_back(made[i].id);
      }
      ones.push_back(made[1].id);
      EXPECT_EQ(AllPages(admin_, by_id), ones) << "walk " << walk;
    }
  }
}

// What the pipelined reader reads (GetProperty, ListProperties' pages) is
// written from the rows straight into wire format (PropertyRowEncoder);
// without the reader (--db_read_connections=0) the answers go through records
// and ToProto, the reference here. Every field must come out the same both
// ways, set or unset, in every order.
TEST_F(PropertyServiceTest, ListedListingsAreWhatGetAnswersFieldForField) {
  pv1::Property full = Listing("ML-FULL", 1'234'567'89, "Zürich");
  full.mutable_address()->set_unit("Apt 4½");
  full.mutable_address()->set_country("CH");
  full.set_bathrooms_full(2);
  full.set_bathrooms_half(1);
  full.set_bathrooms_total_integer(3);
  full.set_living_area_sqft(2150);
  full.set_lot_size_sqft(9'000'000'000);
  full.set_year_built(1899);
  full.set_description("Château with a view — «très calme» ✓");
  full.set_list_date("2026-03-01");
  full.set_listing_key("LK-1");
  full.set_originating_system_name("CRMLS");
  full.set_latitude(0);  // on the equator: set, though zero
  full.set_longitude(-122.6765);
  full.set_mls_status("Active Under Contract");
  full.set_on_market_date("2026-03-02");
  full.set_close_price_cents(1'200'000'01);
  full.set_close_date("2026-06-30");
  full.set_agent_id(admin_.id);
  pv1::Property created;
  ASSERT_TRUE(Create(admin_, full, &created).ok());
  // A status and a price change stamp their times.
  created.set_status(pv1::PROPERTY_STATUS_PENDING);
  created.set_price_cents(1'100'000'00);
  ASSERT_TRUE(Update(admin_, created, {"status", "price_cents"}).ok());
  pv1::Property sparse;
  sparse.set_mls_id("ML-SPARSE");
  sparse.mutable_address()->set_street("1 Elm St");
  sparse.mutable_address()->set_city("Springfield");
  sparse.mutable_address()->set_state_or_province("IL");
  sparse.mutable_address()->set_postal_code("62701");
  sparse.set_price_cents(1);
  ASSERT_TRUE(Create(admin_, sparse).ok());

  std::map<int64_t, pv1::Property> reference;  // GetProperty's answers, through records
  for (const bool pipelined : {false, true}) {
    StartService(pipelined ? std::vector<std::string>{}
                           : std::vector<std::string>{"--db_read_connections=0"});
    for (const pv1::PropertyOrder order :
         {pv1::PROPERTY_ORDER_NEWEST, pv1::PROPERTY_ORDER_PRICE_DESCENDING,
          pv1::PROPERTY_ORDER_RECENTLY_CHANGED}) {
      pv1::ListPropertiesRequest request;
      request.set_order_by(order);
      request.set_page_size(1);  // a token from the rows' keys on every page
      std::vector<pv1::Property> listed;
      do {
        pv1::ListPropertiesResponse page;
        ASSERT_TRUE(stub_->ListProperties(Context(admin_.token).get(), request, &page).ok());
        listed.insert(listed.end(), page.properties().begin(), page.properties().end());
        request.set_page_token(page.next_page_token());
      } while (!request.page_token().empty() && listed.size() < 10);
      ASSERT_EQ(listed.size(), 2u) << pipelined << " " << order;
      for (const pv1::Property& p : listed) {
        pv1::Property got;
        ASSERT_TRUE(Get(admin_, p.id(), &got).ok());
        if (!pipelined) {
          reference[p.id()] = got;
        }
        for (const pv1::Property* other : {&got, &reference[p.id()]}) {
          EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(p, *other))
              << (pipelined ? "pipelined" : "pool") << " order " << order
              << "\n  listed: " << p.ShortDebugString()
              << "\nanswered: " << other->ShortDebugString();
        }
      }
      const pv1::Property& rich = listed[0].mls_id() == "ML-FULL" ? listed[0] : listed[1];
      EXPECT_TRUE(rich.has_latitude());
      EXPECT_TRUE(rich.has_status_change_timestamp());
      EXPECT_TRUE(rich.has_price_change_timestamp());
      EXPECT_EQ(rich.status(), pv1::PROPERTY_STATUS_PENDING);
      EXPECT_EQ(rich.address().unit(), "Apt 4½");
    }
  }
}

pv1::Property FeedRecord(int i, int64_t price = 0) {
  pv1::Property p = Listing(absl::StrCat("FEED-", i), price != 0 ? price : 300'000'00 + i);
  p.set_listing_key(absl::StrCat("key-", i));
  p.set_originating_system_name("CRMLS");
  p.set_status(pv1::PROPERTY_STATUS_ACTIVE);
  p.set_description(absl::StrCat("Feed listing ", i));
  return p;
}

TEST_F(PropertyServiceTest, ImportCountsMixedRowsExactlyAndReimportChangesNothing) {
  const TestUser client = User("cat", av1::ROLE_CLIENT);
  const TestUser agent = User("ana", av1::ROLE_AGENT);
  // A listing made by hand that the feed will claim by mls_id (taking its key).
  pv1::Property by_hand;
  ASSERT_TRUE(Create(agent, Listing("FEED-3", 1), &by_hand).ok());
  std::vector<pv1::Property> first;
  for (int i = 0; i < 6; ++i) {
    first.push_back(FeedRecord(i));  // rows 0..5
  }
  pv1::Property negative = FeedRecord(6);
  negative.set_price_cents(-5);
  first.push_back(negative);  // row 6: price_cents
  pv1::Property no_city = FeedRecord(7);
  no_city.mutable_address()->set_city("");
  first.push_back(no_city);  // row 7: address.city
  pv1::Property to_client = FeedRecord(8);
  to_client.set_agent_id(client.id);
  first.push_back(to_client);              // row 8: agent_id
  first.push_back(FeedRecord(1, 999'00));  // row 9: key-1 again, new price: updated
  first.push_back(FeedRecord(2));          // row 10: key-2 again, identical: unchanged
  std::vector<pv1::Property> second = {FeedRecord(10), FeedRecord(0)};  // rows 11, 12
  pv1::ImportPropertiesResponse response;
  grpc::Status status = Import(admin_, {first, second}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Created: 0, 1, 2, 4, 5 and 10; FEED-3 updated (claimed), row 9 updated;
  // row 10 and row 12 (FEED-0 again, identical) unchanged.
  EXPECT_EQ(response.created_count(), 6);
  EXPECT_EQ(response.updated_count(), 2);
  EXPECT_EQ(response.unchanged_count(), 2);
  EXPECT_EQ(response.failed_count(), 3);
  ASSERT_EQ(response.errors_size(), 3);
  EXPECT_EQ(response.errors(0).row_index(), 6);
  EXPECT_EQ(response.errors(0).field(), "price_cents");
  EXPECT_EQ(response.errors(0).mls_id(), "FEED-6");
  EXPECT_EQ(response.errors(1).row_index(), 7);
  EXPECT_EQ(response.errors(1).field(), "address.city");
  EXPECT_EQ(response.errors(2).row_index(), 8);
  EXPECT_EQ(response.errors(2).field(), "agent_id");
  EXPECT_FALSE(response.errors_truncated());
  pv1::Property claimed;
  ASSERT_TRUE(Get(admin_, by_hand.id(), &claimed).ok());
  EXPECT_EQ(claimed.listing_key(), "key-3");
  EXPECT_EQ(claimed.agent_id(), agent.id);  // agent_id 0 keeps the stored agent
  EXPECT_EQ(claimed.price_cents(), 300'000'03);
  EXPECT_THAT(Actions(by_hand.id()), ::testing::ElementsAre("property.created", "property.updated",
                                                            "property.price_changed"));
  const int64_t events = Count("SELECT count(*) FROM outbox");
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE action = 'property.imported'"), 1);
  // The feed as it now stands, again: everything unchanged, no event but
  // the import's.
  const std::vector<pv1::Property> final_state = {
      FeedRecord(0), FeedRecord(1, 999'00), FeedRecord(2), FeedRecord(3),
      FeedRecord(4), FeedRecord(5),         FeedRecord(10)};
  pv1::ImportPropertiesResponse again;
  ASSERT_TRUE(Import(admin_, {final_state}, &again).ok());
  EXPECT_EQ(again.created_count(), 0);
  EXPECT_EQ(again.updated_count(), 0);
  EXPECT_EQ(again.unchanged_count(), 7);
  EXPECT_EQ(again.failed_count(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events + 1);
  EXPECT_EQ(Count("SELECT max(version) FROM properties"), 2);
  // A retried import (same request_id) answers the first result, writes nothing.
  pv1::ImportPropertiesResponse with_id;
  ASSERT_TRUE(Import(admin_, {{FeedRecord(20)}}, &with_id, "feed-2026-12-01").ok());
  EXPECT_EQ(with_id.created_count(), 1);
  const int64_t before_retry = Count("SELECT count(*) FROM outbox");
  pv1::ImportPropertiesResponse retried;
  ASSERT_TRUE(Import(admin_, {{FeedRecord(21)}}, &retried, "feed-2026-12-01").ok());
  EXPECT_EQ(retried.SerializeAsString(), with_id.SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM properties WHERE mls_id = 'FEED-21'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), before_retry);
}

TEST_F(PropertyServiceTest, ImportIsForAdminsAndServicesRestoresAndLimitsMessages) {
  const TestUser agent = User("ana", av1::ROLE_AGENT);
  pv1::ImportPropertiesResponse response;
  EXPECT_EQ(Import(agent, {{FeedRecord(1)}}, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  absl::StatusOr<TestUser> feed = auth().Login("mlsfeed@service.crm.local", kFeedSecret);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_TRUE(Import(*feed, {{FeedRecord(1)}}, &response).ok());
  EXPECT_EQ(response.created_count(), 1);
  // A deleted listing comes back with its feed record.
  pv1::GetPropertyRequest by_mls;
  by_mls.set_mls_id("FEED-1");
  pv1::GetPropertyResponse got;
  ASSERT_TRUE(stub_->GetProperty(Context(admin_.token).get(), by_mls, &got).ok());
  pv1::DeletePropertyRequest del;
  del.set_id(got.property().id());
  pv1::DeletePropertyResponse deleted;
  ASSERT_TRUE(stub_->DeleteProperty(Context(admin_.token).get(), del, &deleted).ok());
  ASSERT_TRUE(Import(*feed, {{FeedRecord(1)}}, &response).ok());
  EXPECT_EQ(response.updated_count(), 1);
  EXPECT_TRUE(Get(admin_, got.property().id()).ok());
  EXPECT_THAT(Actions(got.property().id()), ::testing::Contains("property.restored"));
  // 1..1000 rows per message.
  std::vector<pv1::Property> too_many(1001, FeedRecord(2));
  EXPECT_EQ(Import(admin_, {too_many}, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import(admin_, {{}}, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Messages are stored two at a time; one that names a listing an earlier
// message still being stored names waits for it, so every listing's rows
// apply in stream order.
TEST_F(PropertyServiceTest, ImportAppliesEachListingsRowsInStreamOrder) {
  std::vector<std::vector<pv1::Property>> messages;
  for (int m = 0; m < 8; ++m) {
    std::vector<pv1::Property> message = {FeedRecord(1, 100'000'00 + m)};
    for (int i = 0; i < 200; ++i) {
      message.push_back(FeedRecord(1000 + m * 200 + i));
    }
    messages.push_back(std::move(message));
  }
  pv1::ImportPropertiesResponse response;
  ASSERT_TRUE(Import(admin_, messages, &response).ok());
  EXPECT_EQ(response.created_count(), 1 + 8 * 200);
  EXPECT_EQ(response.updated_count(), 7);
  EXPECT_EQ(response.failed_count(), 0);
  EXPECT_EQ(Count("SELECT (price * 100)::int8 FROM properties WHERE mls_id = 'FEED-1'"),
            100'000'07);
  EXPECT_EQ(Count("SELECT version FROM properties WHERE mls_id = 'FEED-1'"), 8);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE action = 'property.price_changed'"), 7);
}

// Two feeds importing the same new listings at once: each listing is created
// once, by one of them; the other finds it (unchanged). Neither fails.
TEST_F(PropertyServiceTest, ConcurrentImportsOfTheSameListingsCreateEachOnce) {
  std::vector<std::vector<pv1::Property>> messages;
  for (int m = 0; m < 4; ++m) {
    std::vector<pv1::Property> message;
    for (int i = 0; i < 150; ++i) {
      message.push_back(FeedRecord(m * 150 + i));
    }
    messages.push_back(std::move(message));
  }
  pv1::ImportPropertiesResponse a, b;
  grpc::Status status_a, status_b;
  std::thread other([&] { status_b = Import(admin_, messages, &b); });
  status_a = Import(admin_, messages, &a);
  other.join();
  ASSERT_TRUE(status_a.ok()) << status_a.error_message();
  ASSERT_TRUE(status_b.ok()) << status_b.error_message();
  EXPECT_EQ(a.created_count() + b.created_count(), 600);
  EXPECT_EQ(a.unchanged_count() + b.unchanged_count(), 600);
  EXPECT_EQ(a.failed_count() + b.failed_count(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM properties"), 600);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE action = 'property.created'"), 600);
}

// A stream cut off by its client keeps each message it stored whole and
// answers nothing: no summary, nothing of a message half written.
TEST_F(PropertyServiceTest, ImportCutOffMidStreamKeepsWholeMessagesOnly) {
  auto context = Context(admin_.token);
  pv1::ImportPropertiesResponse response;
  auto writer = stub_->ImportProperties(context.get(), &response);
  pv1::ImportPropertiesRequest request;
  for (int i = 0; i < 500; ++i) {
    *request.add_properties() = FeedRecord(i);
  }
  ASSERT_TRUE(writer->Write(request));
  for (int i = 0; i < 200 && Count("SELECT count(*) FROM properties") < 500; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(Count("SELECT count(*) FROM properties"), 500);
  request.Clear();
  for (int i = 500; i < 1000; ++i) {
    *request.add_properties() = FeedRecord(i);
  }
  writer->Write(request);
  context->TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t stored = Count("SELECT count(*) FROM properties");
  EXPECT_TRUE(stored == 500 || stored == 1000) << stored;
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE action = 'property.created'"), stored);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE action = 'property.imported'"), 0);
}

// A listing's words live apart (property_words, kept by the table's triggers)
// and are written again only when its text changes. With no walk, every
// free-text page is read through them: each kind of write must show.
TEST_F(PropertyServiceTest, TheWordsFollowEveryWriteOfTheText) {
  StartService({"--free_text_walk_rows=0"});
  auto search = [&](const std::string& text) {
    pv1::ListPropertiesRequest request;
    request.set_query(text);
    request.set_page_size(10);
    return AllPages(admin_, request);
  };
  auto words_version = [&](int64_t id) {
    return Count(
        absl::StrCat("SELECT xmin::text::int8 FROM property_words WHERE property_id = ", id));
  };
  pv1::Property granite = Listing("ML-T1", 400'000'00);
  granite.set_description("Granite counters");
  pv1::Property marble = Listing("ML-T2", 500'000'00);
  marble.set_description("Marble floors");
  pv1::Property a, b;
  ASSERT_TRUE(Create(admin_, granite, &a).ok());
  ASSERT_TRUE(Create(admin_, marble, &b).ok());
  EXPECT_EQ(search("granite"), std::vector<int64_t>{a.id()});
  EXPECT_EQ(search("marble"), std::vector<int64_t>{b.id()});

  // The text changes: the old word no longer finds it, the new one does.
  pv1::Property edit;
  edit.set_id(a.id());
  edit.set_description("Marble island");
  ASSERT_TRUE(Update(admin_, edit, {"description"}).ok());
  EXPECT_TRUE(search("granite").empty());
  EXPECT_EQ(search("marble"), (std::vector<int64_t>{b.id(), a.id()}));

  // Only the price changes: its words are not written again.
  const int64_t before = words_version(a.id());
  edit.set_price_cents(390'000'00);
  ASSERT_TRUE(Update(admin_, edit, {"price_cents"}).ok());
  EXPECT_EQ(words_version(a.id()), before);
  EXPECT_EQ(search("marble"), (std::vector<int64_t>{b.id(), a.id()}));

  // An import creates, then changes the remarks of one listing.
  pv1::Property fed = FeedRecord(1);
  fed.set_description("Quartz kitchen");
  pv1::ImportPropertiesResponse imported;
  ASSERT_TRUE(Import(admin_, {{fed}}, &imported).ok());
  ASSERT_EQ(imported.created_count(), 1);
  const std::vector<int64_t> quartz = search("quartz");
  ASSERT_EQ(quartz.size(), 1u);
  fed.set_description("Terrazzo kitchen");
  ASSERT_TRUE(Import(admin_, {{fed}}, &imported).ok());
  ASSERT_EQ(imported.updated_count(), 1);
  EXPECT_TRUE(search("quartz").empty());
  EXPECT_EQ(search("terrazzo"), quartz);
  EXPECT_EQ(search("kitchen"), quartz);

  // Deleted (soft), a listing is not found; restored by a feed, it is again.
  pv1::DeletePropertyRequest del;
  del.set_id(quartz[0]);
  pv1::DeletePropertyResponse deleted;
  ASSERT_TRUE(stub_->DeleteProperty(Context(admin_.token).get(), del, &deleted).ok());
  EXPECT_TRUE(search("terrazzo").empty());
  ASSERT_TRUE(Import(admin_, {{fed}}, &imported).ok());
  EXPECT_EQ(search("terrazzo"), quartz);

  // Removed outright (an operator's DELETE), its words go with it; every
  // listing has its words and nothing else does.
  Count(absl::StrCat("WITH d AS (DELETE FROM properties WHERE id = ", b.id(),
                     " RETURNING id) SELECT count(*) FROM d"));
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM property_words WHERE property_id = ", b.id())),
            0);
  EXPECT_EQ(search("marble"), std::vector<int64_t>{a.id()});
  EXPECT_EQ(Count("SELECT count(*) FROM property_words w FULL JOIN properties p "
                  "ON p.id = w.property_id WHERE p.id IS NULL OR w.property_id IS NULL"),
            0);
}

}  // namespace
}  // namespace crm::properties
