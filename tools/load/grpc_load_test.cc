#include "tools/load/grpc_load.h"

#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParseMetadataTest, LowerCasesKeysAndTrims) {
  absl::StatusOr<Metadata> metadata =
      ParseMetadata({"Authorization: Bearer x.y.z", "x-request-id:abc", "k-bin: \x01\x02"});
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_THAT(*metadata, ElementsAre(Pair("authorization", "Bearer x.y.z"),
                                     Pair("x-request-id", "abc"), Pair("k-bin", "\x01\x02")));
}

TEST(ParseMetadataTest, RejectsInvalidHeaders) {
  for (const char* bad : {"no colon", ": empty key", "bad key: x", "grpc-timeout: 1S",
                          "caf\xc3\xa9: x", "k: line\nbreak"}) {
    absl::StatusOr<Metadata> metadata = ParseMetadata({bad});
    EXPECT_EQ(metadata.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(metadata.status().message(), HasSubstr("--metadata")) << bad;
  }
}

}  // namespace
}  // namespace crm::load
