#include "tools/gateway_bench/web_response.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::gateway_bench {
namespace {

using ::testing::HasSubstr;
using Kind = WebEvent::Kind;

std::string Frame(uint8_t flags, const std::string& payload) {
  std::string out(1, static_cast<char>(flags));
  const uint32_t n = static_cast<uint32_t>(payload.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  return out + payload;
}

std::string Chunk(const std::string& bytes) {
  return absl::StrCat(absl::Hex(bytes.size()), "\r\n", bytes, "\r\n");
}

// What crm-gateway sends for a unary call that succeeds: chunked, one chunk
// per frame.
std::string StreamedAnswer(const std::vector<std::string>& messages, const std::string& trailers) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (const std::string& m : messages) {
    out += Chunk(Frame(0, m));
  }
  out += Chunk(Frame(0x80, trailers));
  return out + "0\r\n\r\n";
}

std::vector<WebEvent> FeedAll(WebResponseParser& parser, const std::string& bytes,
                              size_t piece = 0) {
  std::vector<WebEvent> events;
  if (piece == 0) {
    EXPECT_TRUE(parser.Feed(bytes, &events).ok());
    return events;
  }
  for (size_t at = 0; at < bytes.size(); at += piece) {
    EXPECT_TRUE(parser.Feed(absl::string_view(bytes).substr(at, piece), &events).ok());
  }
  return events;
}

TEST(EncodeWebRequestTest, PostWithOneFrame) {
  const std::string request =
      EncodeWebRequest("127.0.0.1:8080", "/a.B/C", {{"authorization", "Bearer t"}}, "xyz");
  EXPECT_THAT(request, HasSubstr("POST /a.B/C HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
  EXPECT_THAT(request, HasSubstr("Content-Type: application/grpc-web+proto\r\n"));
  EXPECT_THAT(request, HasSubstr("Content-Length: 8\r\n"));
  EXPECT_THAT(request, HasSubstr("authorization: Bearer t\r\n"));
  EXPECT_EQ(request.substr(request.find("\r\n\r\n") + 4), Frame(0, "xyz"));
}

TEST(WebResponseParserTest, UnaryAnswerInAnySplit) {
  const std::string bytes = StreamedAnswer({"hello"}, "grpc-status: 0\r\ngrpc-message: \r\n");
  for (size_t piece : {size_t{0}, size_t{1}, size_t{3}, size_t{7}}) {
    WebResponseParser parser;
    std::vector<WebEvent> events = FeedAll(parser, bytes, piece);
    ASSERT_EQ(events.size(), 3u) << "piece " << piece;
    EXPECT_EQ(events[0].kind, Kind::kHeaders);
    EXPECT_EQ(events[0].http_status, 200);
    EXPECT_FALSE(events[0].trailers_only);
    EXPECT_EQ(events[1].kind, Kind::kMessage);
    EXPECT_EQ(events[1].payload, "hello");
    EXPECT_EQ(events[2].kind, Kind::kEnd);
    EXPECT_EQ(events[2].grpc_status, 0);
    EXPECT_TRUE(events[2].keep_alive);
    EXPECT_FALSE(parser.InResponse());
  }
}

TEST(WebResponseParserTest, TrailersOnlyRefusal) {
  WebResponseParser parser;
  std::vector<WebEvent> events =
      FeedAll(parser,
              "HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\ngrpc-status: 16\r\n"
              "grpc-message: token%20expired\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].trailers_only);
  EXPECT_EQ(events[1].kind, Kind::kEnd);
  EXPECT_EQ(events[1].grpc_status, 16);
  EXPECT_EQ(events[1].grpc_message, "token expired");
}

TEST(WebResponseParserTest, ResponsesFollowOneAnotherOnAConnection) {
  WebResponseParser parser;
  const std::string one = StreamedAnswer({"a"}, "grpc-status: 0\r\n");
  const std::string two = StreamedAnswer({}, "grpc-status: 5\r\ngrpc-message: no%25\r\n");
  std::vector<WebEvent> events = FeedAll(parser, one + two);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[2].grpc_status, 0);
  EXPECT_EQ(events[3].kind, Kind::kHeaders);
  EXPECT_EQ(events[4].grpc_status, 5);
  EXPECT_EQ(events[4].grpc_message, "no%");
}

TEST(WebResponseParserTest, StreamMessagesArriveBeforeTheEnd) {
  WebResponseParser parser;
  std::vector<WebEvent> events =
      FeedAll(parser,
              "HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kHeaders);
  EXPECT_TRUE(parser.InResponse());
  // Two frames in one chunk, then a third split over two chunks.
  const std::string three = Frame(0, "third");
  events = FeedAll(parser, Chunk(Frame(0, "1") + Frame(0, "22")) + Chunk(three.substr(0, 4)) +
                               Chunk(three.substr(4)));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].payload, "1");
  EXPECT_EQ(events[1].payload, "22");
  EXPECT_EQ(events[2].payload, "third");
}

TEST(WebResponseParserTest, HttpErrorPageIsNotFrames) {
  WebResponseParser parser;
  std::vector<WebEvent> events = FeedAll(
      parser,
      "HTTP/1.1 415 Unsupported Media Type\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
      "Connection: close\r\n\r\nnope\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, Kind::kEnd);
  EXPECT_EQ(events[1].http_status, 415);
  EXPECT_EQ(events[1].grpc_status, -1);
  EXPECT_FALSE(events[1].keep_alive);
}

TEST(WebResponseParserTest, MalformedInputIsRefused) {
  std::vector<WebEvent> events;
  WebResponseParser a;
  EXPECT_FALSE(a.Feed("SMTP ready\r\n", &events).ok());
  WebResponseParser b;
  EXPECT_FALSE(b.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &events).ok());
  WebResponseParser c;  // the body ends inside a frame
  const std::string cut = Frame(0, "abcdef").substr(0, 4);
  EXPECT_FALSE(c.Feed(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web\r\n"
                                   "Content-Length: ",
                                   cut.size(), "\r\n\r\n", cut),
                      &events)
                   .ok());
}

}  // namespace
}  // namespace crm::gateway_bench
