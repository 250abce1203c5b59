#include "services/gateway/grpc_web.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::gateway {
namespace {

using ::testing::HasSubstr;

TEST(ContentType, NamesTheModeAndRefusesOtherCodecs) {
  EXPECT_EQ(ModeOfContentType("application/grpc-web"), WebMode::kBinary);
  EXPECT_EQ(ModeOfContentType("application/grpc-web+proto"), WebMode::kBinary);
  EXPECT_EQ(ModeOfContentType("Application/GRPC-Web+proto; charset=utf-8"), WebMode::kBinary);
  EXPECT_EQ(ModeOfContentType("application/grpc-web-text"), WebMode::kText);
  EXPECT_EQ(ModeOfContentType("application/grpc-web-text+proto"), WebMode::kText);
  EXPECT_EQ(ModeOfContentType("application/grpc-web+json"), std::nullopt);
  EXPECT_EQ(ModeOfContentType("application/grpc"), std::nullopt);
  EXPECT_EQ(ModeOfContentType(""), std::nullopt);
  EXPECT_EQ(ResponseContentType(WebMode::kText), "application/grpc-web-text+proto");
}

TEST(Frames, RoundTripAndRefuseWhatIsBroken) {
  const std::string body = EncodeFrame(0, "hello") + EncodeFrame(0, "");
  absl::StatusOr<std::vector<Frame>> frames = ParseRequestFrames(body, 100);
  ASSERT_TRUE(frames.ok()) << frames.status();
  ASSERT_EQ(frames->size(), 2u);
  EXPECT_EQ((*frames)[0].payload, "hello");
  EXPECT_EQ((*frames)[1].payload, "");
  EXPECT_EQ(EncodeFrame(0x80, "ab"), std::string("\x80\0\0\0\x02"
                                                 "ab",
                                                 7));

  EXPECT_EQ(ParseRequestFrames(body.substr(0, 7), 100).status().code(),
            absl::StatusCode::kInvalidArgument);  // inside a message
  EXPECT_EQ(ParseRequestFrames(body.substr(0, 3), 100).status().code(),
            absl::StatusCode::kInvalidArgument);  // inside a header
  EXPECT_EQ(ParseRequestFrames(EncodeFrame(0x80, "x"), 100).status().code(),
            absl::StatusCode::kInvalidArgument);  // a trailer in a request
  EXPECT_EQ(ParseRequestFrames(EncodeFrame(0, std::string(101, 'x')), 100).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A length far past the body is refused, not allocated.
  EXPECT_FALSE(ParseRequestFrames(std::string("\0\x7f\xff\xff\xff", 5), 1 << 30).ok());
}

TEST(Trailers, AreLowerCaseLines) {
  EXPECT_EQ(TrailerBlock({{"grpc-status", "0"}, {"Grpc-Message", "ok"}, {"X-Custom", "v"}}),
            "grpc-status: 0\r\ngrpc-message: ok\r\nx-custom: v\r\n");
}

TEST(TextMode, DecodesFourCharacterGroupsAcrossPaddedChunks) {
  const std::string frame = EncodeFrame(0, "hi");
  // Two chunks, each base64 with its own padding, sent back to back.
  const std::string body = EncodeText(frame.substr(0, 4)) + EncodeText(frame.substr(4));
  absl::StatusOr<std::string> decoded = DecodeTextBody(body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, frame);
  EXPECT_THAT(std::string(DecodeTextBody("abc").status().message()), HasSubstr("multiple of 4"));
  EXPECT_FALSE(DecodeTextBody("a!c=").ok());
  EXPECT_EQ(EncodeText(std::string("\0\0\0\x01x", 5)), "AAAAAXg=");
}

TEST(GrpcTimeout, ParsesEveryUnitAndRefusesTheRest) {
  EXPECT_EQ(ParseGrpcTimeout("1H"), absl::Hours(1));
  EXPECT_EQ(ParseGrpcTimeout("2M"), absl::Minutes(2));
  EXPECT_EQ(ParseGrpcTimeout("3S"), absl::Seconds(3));
  EXPECT_EQ(ParseGrpcTimeout("400m"), absl::Milliseconds(400));
  EXPECT_EQ(ParseGrpcTimeout("5u"), absl::Microseconds(5));
  EXPECT_EQ(ParseGrpcTimeout("6n"), absl::Nanoseconds(6));
  EXPECT_EQ(ParseGrpcTimeout("99999999S"), absl::Seconds(99999999));
  for (const char* bad : {"", "S", "5", "5s", "-1S", "123456789S", "1.5S", "S5"}) {
    EXPECT_EQ(ParseGrpcTimeout(bad), std::nullopt) << bad;
  }
}

TEST(GrpcMessage, PercentEncodesWhatIsNotPrintableAscii) {
  EXPECT_EQ(PercentEncode("plain text"), "plain text");
  EXPECT_EQ(PercentEncode("50% off\r\n"), "50%25 off%0D%0A");
  EXPECT_EQ(PercentEncode("caf\xc3\xa9"), "caf%C3%A9");
}

}  // namespace
}  // namespace crm::gateway
