#include "common/db/row_encoder.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "common/testing/pg_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

using ::testing::HasSubstr;

// A message with a field of every kind the encoder writes.
constexpr char kThingFile[] = R"pb(
  name: "thing.proto"
  package: "crm.test"
  dependency: "google/protobuf/timestamp.proto"
  syntax: "proto3"
  enum_type {
    name: "ThingStatus"
    value { name: "THING_STATUS_UNSPECIFIED" number: 0 }
    value { name: "THING_STATUS_OPEN" number: 1 }
    value { name: "THING_STATUS_ON_HOLD" number: 2 }
  }
  message_type {
    name: "Place"
    field { name: "street" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "city" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
  }
  message_type {
    name: "Thing"
    field { name: "id" number: 1 label: LABEL_OPTIONAL type: TYPE_INT64 }
    field { name: "name" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "count" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 }
    field { name: "done" number: 4 label: LABEL_OPTIONAL type: TYPE_BOOL }
    field {
      name: "lat"
      number: 5
      label: LABEL_OPTIONAL
      type: TYPE_DOUBLE
      oneof_index: 0
      proto3_optional: true
    }
    field { name: "score" number: 6 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
    field {
      name: "status"
      number: 7
      label: LABEL_OPTIONAL
      type: TYPE_ENUM
      type_name: ".crm.test.ThingStatus"
    }
    field {
      name: "create_time"
      number: 8
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
    }
    field {
      name: "place"
      number: 9
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".crm.test.Place"
    }
    field { name: "ids" number: 10 label: LABEL_REPEATED type: TYPE_INT64 }
    field {
      name: "maybe"
      number: 11
      label: LABEL_OPTIONAL
      type: TYPE_INT64
      oneof_index: 1
      proto3_optional: true
    }
    field { name: "small" number: 20 label: LABEL_OPTIONAL type: TYPE_INT32 }
    oneof_decl { name: "_lat" }
    oneof_decl { name: "_maybe" }
  }
)pb";

class RowEncoderTest : public crm::testing::PgTest {
 protected:
  RowEncoderTest() : pool_(google::protobuf::DescriptorPool::generated_pool()) {
    google::protobuf::Timestamp::descriptor();  // in the generated pool
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kThingFile, &file));
    EXPECT_NE(pool_.BuildFile(file), nullptr);
    thing_ = pool_.FindMessageTypeByName("crm.test.Thing");
  }

  absl::StatusOr<Rows> Read(const std::string& sql) {
    PipelinedReader reader({.dsn = dsn_, .connections = 1, .statements = {}});
    absl::Notification done;
    absl::StatusOr<Rows> out = absl::UnknownError("not answered");
    reader.ReadSql(sql, {}, [&](absl::StatusOr<Rows> rows) {
      out = std::move(rows);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  // Row `row` encoded, checked against `expected` (text format): parsed
  // back, and byte for byte against protobuf's own serialisation.
  void ExpectRow(const RowEncoder::Bound& bound, int row, const std::string& expected) {
    std::unique_ptr<google::protobuf::Message> want(factory_.GetPrototype(thing_)->New());
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(expected, want.get())) << expected;
    std::string bytes = "prefix";  // appends, leaving what is there
    bound.AppendMessage(row, &bytes);
    ASSERT_EQ(bytes.substr(0, 6), "prefix");
    bytes.erase(0, 6);
    std::unique_ptr<google::protobuf::Message> got(want->New());
    ASSERT_TRUE(got->ParseFromString(bytes));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *want))
        << "row " << row << "\n got: " << got->ShortDebugString()
        << "\nwant: " << want->ShortDebugString();
    EXPECT_EQ(bytes, want->SerializeAsString()) << "row " << row;
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  const google::protobuf::Descriptor* thing_ = nullptr;
};

TEST_F(RowEncoderTest, EncodesEveryKindOfFieldAsProtobufWould) {
  absl::StatusOr<Rows> rows = Read(R"sql(
    SELECT * FROM (VALUES
      (7::int8, 'Ann'::text, 3::int4, true, 45.5::float8, 0.25::float8, 'OPEN'::text,
       1700000000123456::int8, 'Main St'::text, 'Portland'::text, '1,2,300'::text, 0::int8,
       (-5)::int2, 99::int8),
      (0, '', 0, false, NULL, 0, 'NOPE', NULL, NULL, '', '', NULL, 0, 1),
      (-1, 'Ünïcode ✓', 2147483647, NULL, 0, '-0'::float8, 'THING_STATUS_ON_HOLD', -1, 'x', NULL, NULL,
       -3, 0, 2)
    ) AS t (id, name, count, done, lat, score, status, created_at, street, city, ids, maybe,
            small, page_key)
  )sql");
  ASSERT_TRUE(rows.ok()) << rows.status();
  const RowEncoder encoder(
      thing_, {{"created_at", "create_time"}, {"street", "place.street"}, {"city", "place.city"}});
  absl::StatusOr<RowEncoder::Bound> bound = encoder.Bind(*rows);
  ASSERT_TRUE(bound.ok()) << bound.status();
  ExpectRow(*bound, 0, R"pb(
    id: 7
    name: "Ann"
    count: 3
    done: true
    lat: 45.5
    score: 0.25
    status: THING_STATUS_OPEN
    create_time { seconds: 1700000000 nanos: 123456000 }
    place { street: "Main St" city: "Portland" }
    ids: [ 1, 2, 300 ]
    maybe: 0
    small: -5
  )pb");
  // Zeros and NULLs left out, and so a message made of columns none of which
  // is written; an unknown enum name is 0.
  ExpectRow(*bound, 1, "");
  // An optional field is there when zero.
  ExpectRow(*bound, 2, R"pb(
    id: -1
    name: "Ünïcode ✓"
    count: 2147483647
    lat: 0
    score: -0.0
    status: THING_STATUS_ON_HOLD
    create_time { seconds: -1 nanos: 999999000 }
    place { street: "x" }
    maybe: -3
  )pb");
}

// One encoder serves results of several shapes (statements), each resolved
// once and kept: a shape seen again reuses its resolution, never another's.
TEST_F(RowEncoderTest, EachResultShapeIsResolvedByItsOwnColumns) {
  const RowEncoder encoder(thing_, {{"created_at", "create_time"}});
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<Rows> first = Read("SELECT 5::int8 AS id, 'Eve'::text AS name");
    absl::StatusOr<Rows> swapped = Read("SELECT 'Eve'::text AS id_text, 5::int8 AS count");
    absl::StatusOr<Rows> wider = Read("SELECT 5::int4 AS id, 0::int8 AS created_at");
    ASSERT_TRUE(first.ok() && swapped.ok() && wider.ok());
    absl::StatusOr<RowEncoder::Bound> a = encoder.Bind(*first);
    absl::StatusOr<RowEncoder::Bound> b = encoder.Bind(*swapped);
    absl::StatusOr<RowEncoder::Bound> c = encoder.Bind(*wider);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    ExpectRow(*a, 0, R"pb(id: 5 name: "Eve")pb");
    ExpectRow(*b, 0, R"pb(count: 5)pb");
    ExpectRow(*c, 0, R"pb(id: 5
                          create_time {})pb");
  }
  // Same names, another kind: resolved anew (and refused, text for an int).
  absl::StatusOr<Rows> text_id = Read("SELECT '5'::text AS id");
  ASSERT_TRUE(text_id.ok());
  EXPECT_EQ(encoder.Bind(*text_id).status().code(), absl::StatusCode::kInternal);
}

TEST_F(RowEncoderTest, ARenameToNoFieldOrAColumnOfTheWrongKindFailsBind) {
  absl::StatusOr<Rows> rows = Read("SELECT 1::int8 AS id, 'x'::text AS count");
  ASSERT_TRUE(rows.ok()) << rows.status();
  absl::StatusOr<RowEncoder::Bound> bound = RowEncoder(thing_).Bind(*rows);
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bound.status().message(), HasSubstr("column count"));

  bound = RowEncoder(thing_, {{"id", "place.zip"}}).Bind(*rows);
  ASSERT_FALSE(bound.ok());
  EXPECT_THAT(bound.status().message(), HasSubstr("no field place.zip"));
}

}  // namespace
}  // namespace crm::db
