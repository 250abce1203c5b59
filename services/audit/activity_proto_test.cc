#include "services/audit/activity_proto.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::ActivityEvent ValidEvent() {
  v1::ActivityEvent e;
  e.set_event_id("6f1c2c9e-3c5b-4b7e-9d53-0a4d8d1f2e3a");
  e.mutable_occurred_at()->set_seconds(1764028800);
  e.mutable_occurred_at()->set_nanos(123456789);
  e.set_service("leads");
  e.set_user_id(42);
  e.set_action("lead.assigned");
  e.set_entity_type("lead");
  e.set_entity_id(7);
  e.set_details_json(R"({"to_agent_id": 42})");
  return e;
}

TEST(ActivityProtoTest, AcceptsAValidEventKeepingDetailsBytesAndMicroseconds) {
  absl::StatusOr<Event> e = EventFromProto(ValidEvent());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->occurred_at_micros, 1764028800123456);    // nanoseconds truncated
  EXPECT_EQ(e->details_json, R"({"to_agent_id": 42})");  // not re-formatted
}

TEST(ActivityProtoTest, EmptyDetailsBecomeAnEmptyObject) {
  v1::ActivityEvent proto = ValidEvent();
  proto.clear_details_json();
  EXPECT_EQ(EventFromProto(proto)->details_json, "{}");
}

TEST(ActivityProtoTest, RejectsWhatCannotBeStoredNamingTheField) {
  struct Case {
    const char* name;
    void (*mutate)(v1::ActivityEvent&);
    const char* field;
  };
  const Case cases[] = {
      {"upper-case uuid",
       [](v1::ActivityEvent& e) { e.set_event_id("6F1C2C9E-3C5B-4B7E-9D53-0A4D8D1F2E3A"); },
       "event_id"},
      {"no uuid", [](v1::ActivityEvent& e) { e.clear_event_id(); }, "event_id"},
      {"no time", [](v1::ActivityEvent& e) { e.clear_occurred_at(); }, "occurred_at"},
      {"time before 1970", [](v1::ActivityEvent& e) { e.mutable_occurred_at()->set_seconds(-1); },
       "occurred_at"},
      {"no service", [](v1::ActivityEvent& e) { e.clear_service(); }, "service"},
      {"action without verb", [](v1::ActivityEvent& e) { e.set_action("lead"); }, "action"},
      {"action upper-case", [](v1::ActivityEvent& e) { e.set_action("Lead.Assigned"); }, "action"},
      {"action too long",
       [](v1::ActivityEvent& e) { e.set_action("lead." + std::string(60, 'x')); }, "action"},
      {"negative user", [](v1::ActivityEvent& e) { e.set_user_id(-1); }, "user_id"},
      {"entity id without type", [](v1::ActivityEvent& e) { e.clear_entity_type(); }, "entity_id"},
      {"details array", [](v1::ActivityEvent& e) { e.set_details_json("[1]"); }, "details_json"},
      {"details broken", [](v1::ActivityEvent& e) { e.set_details_json("{\"a\":"); },
       "details_json"},
      {"details NUL", [](v1::ActivityEvent& e) { e.set_details_json(R"({"a":"x\u0000y"})"); },
       "details_json"},
      {"details huge number", [](v1::ActivityEvent& e) { e.set_details_json(R"({"a":1e999999})"); },
       "details_json"},
      {"details too long",
       [](v1::ActivityEvent& e) {
         e.set_details_json("{\"a\":\"" + std::string(kMaxDetailsBytes, 'x') + "\"}");
       },
       "details_json"},
  };
  for (const Case& c : cases) {
    v1::ActivityEvent proto = ValidEvent();
    c.mutate(proto);
    absl::StatusOr<Event> e = EventFromProto(proto);
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(e.status().message(), HasSubstr(c.field)) << c.name;
  }
}

TEST(ActivityProtoTest, FilterNeedsEntityTypeForEntityIdAndOrderedTimes) {
  v1::ActivityFilter f;
  f.set_entity_id(3);
  EXPECT_THAT(FilterFromProto(f, "filter").status().message(), HasSubstr("filter.entity_id"));
  f.set_entity_type("lead");
  EXPECT_TRUE(FilterFromProto(f, "filter").ok());
  f.mutable_start_time()->set_seconds(100);
  f.mutable_end_time()->set_seconds(100);
  EXPECT_THAT(FilterFromProto(f, "filter").status().message(), HasSubstr("filter.end_time"));
}

TEST(ActivityProtoTest, FilterActionsAreCheckedAndKeptInOneOrder) {
  v1::ActivityFilter f;
  f.add_actions("lead.created");
  f.add_actions("");
  EXPECT_THAT(FilterFromProto(f, "filter").status().message(), HasSubstr("filter.actions[1]"));
  f.set_actions(1, std::string(200, 'a'));
  EXPECT_THAT(FilterFromProto(f, "filter").status().message(), HasSubstr("filter.actions[1]"));
  f.clear_actions();
  for (int i = 0; i < 101; ++i) {
    f.add_actions(absl::StrCat("lead.a", i));
  }
  EXPECT_THAT(FilterFromProto(f, "filter").status().message(), HasSubstr("filter.actions"));

  v1::ActivityFilter a, b;
  for (const char* action : {"user.created", "lead.assigned", "user.created"}) {
    a.add_actions(action);
  }
  b.add_actions("lead.assigned");
  b.add_actions("user.created");
  absl::StatusOr<ActivityFilter> fa = FilterFromProto(a, "filter");
  absl::StatusOr<ActivityFilter> fb = FilterFromProto(b, "filter");
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_THAT(fa->actions, ElementsAre("lead.assigned", "user.created"));
  EXPECT_EQ(FilterFingerprint(*fa), FilterFingerprint(*fb));
}

TEST(ActivityProtoTest, FingerprintsDifferWhenFiltersDo) {
  ActivityFilter a;
  a.service = "ab";
  ActivityFilter b;
  b.action = "ab";
  EXPECT_NE(FilterFingerprint(a), FilterFingerprint(b));
  ActivityFilter c;
  c.entity_type = "a";
  c.entity_id = 1;
  ActivityFilter d;
  d.entity_type = "a/1";
  EXPECT_NE(FilterFingerprint(c), FilterFingerprint(d));
  ActivityFilter e;
  e.actions = {"ab"};
  EXPECT_NE(FilterFingerprint(e), FilterFingerprint(b));
  ActivityFilter g;
  g.actions = {"a", "b"};
  ActivityFilter h;
  h.actions = {"a,1:b"};
  EXPECT_NE(FilterFingerprint(g), FilterFingerprint(h));
  EXPECT_EQ(FilterFingerprint(a), FilterFingerprint(a));
}

}  // namespace
}  // namespace crm::audit
