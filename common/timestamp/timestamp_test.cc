#include "common/timestamp/timestamp.h"

#include <pqxx/pqxx>

#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::timestamp {
namespace {

TEST(TimestampTest, ProtoRoundTripKeepsMicroseconds) {
  const absl::Time t = absl::FromUnixMicros(1764598800123456);
  const google::protobuf::Timestamp proto = ToProto(t);
  EXPECT_EQ(proto.seconds(), 1764598800);
  EXPECT_EQ(proto.nanos(), 123456000);
  absl::StatusOr<absl::Time> back = FromProto(proto, "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
}

TEST(TimestampTest, FromProtoTruncatesToTheMicrosecond) {
  google::protobuf::Timestamp proto;
  proto.set_seconds(10);
  proto.set_nanos(999999999);
  absl::StatusOr<absl::Time> t = FromProto(proto, "t");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(ToMicros(*t), 10999999);
}

TEST(TimestampTest, FromProtoRefusesOutOfRangeNamingTheField) {
  for (auto [seconds, nanos] :
       {std::pair<int64_t, int32_t>{-1, 0}, {253402300800, 0}, {5, -1}, {5, 1000000000}}) {
    google::protobuf::Timestamp proto;
    proto.set_seconds(seconds);
    proto.set_nanos(nanos);
    absl::StatusOr<absl::Time> t = FromProto(proto, "received_time");
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << seconds << " " << nanos;
    EXPECT_NE(t.status().message().find("received_time"), std::string::npos);
  }
}

TEST(TimestampTest, SqlTextIsExact) {
  EXPECT_EQ(SqlText(absl::FromUnixMicros(1764598800000001)), "2025-12-01T14:20:00.000001Z");
}

class TimestampSqlTest : public testing::PgTest {};

// Both directions through a real server: what goes in comes out to the
// microsecond, including instants float8 arithmetic would round.
TEST_F(TimestampSqlTest, MicrosRoundTripThroughPostgres) {
  pqxx::connection conn(dsn_);
  pqxx::nontransaction tx(conn);
  for (int64_t micros : {int64_t{0}, int64_t{1764598800123457}, int64_t{253402300799999999}}) {
    pqxx::row row =
        tx.exec_params1("SELECT " + MicrosColumn("t") + " FROM (SELECT $1::timestamptz AS t) AS x",
                        SqlText(FromMicros(micros)));
    EXPECT_EQ(row["t"].as<int64_t>(), micros);
  }
}

}  // namespace
}  // namespace crm::timestamp
