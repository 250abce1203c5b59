#include "common/wire/proto_wire.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/wrappers.pb.h>

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace crm::wire {
namespace {

TEST(ProtoWireTest, VarintsAsProtobufWritesThem) {
  for (int64_t v :
       {int64_t{0}, int64_t{1}, int64_t{127}, int64_t{128}, int64_t{300}, int64_t{1} << 35,
        std::numeric_limits<int64_t>::max(), int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    google::protobuf::Int64Value expected;
    expected.set_value(v);
    std::string ours;
    if (v != 0) {  // proto3 leaves a zero out
      AppendVarintField(1, v, &ours);
    }
    EXPECT_EQ(ours, expected.SerializeAsString()) << v;
    std::string bare;
    AppendVarint(static_cast<uint64_t>(v), &bare);
    EXPECT_EQ(bare.size(), VarintSize(static_cast<uint64_t>(v))) << v;
  }
}

TEST(ProtoWireTest, NegativeInt32IsSignExtended) {
  google::protobuf::Int32Value expected;
  expected.set_value(-5);
  std::string ours;
  AppendVarintField(1, int32_t{-5}, &ours);
  EXPECT_EQ(ours, expected.SerializeAsString());
  EXPECT_EQ(ours.size(), 11u);
}

TEST(ProtoWireTest, DoublesAndStringsAndLargeFieldNumbers) {
  google::protobuf::DoubleValue d;
  d.set_value(-122.6765);
  std::string ours;
  AppendDoubleField(1, -122.6765, &ours);
  EXPECT_EQ(ours, d.SerializeAsString());

  google::protobuf::StringValue s;
  s.set_value(std::string(300, 'x'));  // a two-byte length
  ours.clear();
  AppendLengthDelimited(1, s.value(), &ours);
  EXPECT_EQ(ours, s.SerializeAsString());

  // A field number past 15 takes a two-byte tag; a nested message is its
  // bytes, length-delimited.
  google::protobuf::Field field;
  field.set_default_value("7");  // field 11
  google::protobuf::Type type;
  *type.add_fields() = field;                               // field 2, a message
  type.mutable_source_context()->set_file_name("f.proto");  // field 5
  std::string inner;
  AppendLengthDelimited(11, "7", &inner);
  std::string context;
  AppendLengthDelimited(1, "f.proto", &context);
  ours.clear();
  AppendLengthDelimited(2, inner, &ours);
  AppendLengthDelimited(5, context, &ours);
  EXPECT_EQ(ours, type.SerializeAsString());

  google::protobuf::Timestamp t;
  t.set_seconds(1700000000);
  t.set_nanos(123000);
  ours.clear();
  AppendVarintField(1, 1700000000, &ours);
  AppendVarintField(2, 123000, &ours);
  EXPECT_EQ(ours, t.SerializeAsString());
}

}  // namespace
}  // namespace crm::wire
