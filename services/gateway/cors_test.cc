#include "services/gateway/cors.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::gateway {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(Cors, NamesAnAllowedOriginBackAndNothingForOthers) {
  const CorsPolicy cors(" https://crm.example.com, http://localhost:5173 ,");
  EXPECT_TRUE(cors.Allowed("https://crm.example.com"));
  EXPECT_TRUE(cors.Allowed("http://localhost:5173"));
  EXPECT_FALSE(cors.Allowed("https://crm.example.com.evil.test"));
  EXPECT_FALSE(cors.Allowed("http://localhost:5174"));
  EXPECT_FALSE(cors.Allowed(""));
  const Headers headers = cors.ResponseHeaders("http://localhost:5173");
  EXPECT_THAT(headers, Contains(Pair("Access-Control-Allow-Origin", "http://localhost:5173")));
  EXPECT_THAT(headers, Contains(Pair("Access-Control-Allow-Credentials", "true")));
  EXPECT_THAT(headers, Contains(Pair("Access-Control-Expose-Headers",
                                     "grpc-status, grpc-message, grpc-status-details-bin")));
  EXPECT_THAT(cors.ResponseHeaders("http://other.test"), IsEmpty());
}

TEST(Cors, PreflightAllowsTheGrpcWebHeadersAndCustomOnesOnly) {
  const CorsPolicy cors("http://localhost:5173");
  const Headers headers = cors.PreflightHeaders(
      "http://localhost:5173", "Content-Type, x-grpc-web, X-Request-Id, cookie, x-forwarded-for");
  EXPECT_THAT(headers, Contains(Pair("Access-Control-Allow-Methods", "POST, OPTIONS")));
  EXPECT_THAT(headers,
              Contains(Pair("Access-Control-Allow-Headers",
                            "content-type, authorization, x-grpc-web, x-user-agent, grpc-timeout, "
                            "grpc-encoding, grpc-accept-encoding, x-request-id")));
  EXPECT_THAT(cors.PreflightHeaders("http://other.test", "content-type"), IsEmpty());
}

}  // namespace
}  // namespace crm::gateway
