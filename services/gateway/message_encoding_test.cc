#include "services/gateway/message_encoding.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/byte_buffer_reader.h"
#include "grpc/slice.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/gateway/backends.h"

namespace crm::gateway {
namespace {

using ::testing::HasSubstr;

TEST(ParseMessageEncoding, KnowsWhatGrpcCppDecodes) {
  EXPECT_EQ(ParseMessageEncoding("").value(), GRPC_COMPRESS_NONE);
  EXPECT_EQ(ParseMessageEncoding("identity").value(), GRPC_COMPRESS_NONE);
  EXPECT_EQ(ParseMessageEncoding("gzip").value(), GRPC_COMPRESS_GZIP);
  EXPECT_EQ(ParseMessageEncoding(" GZip ").value(), GRPC_COMPRESS_GZIP);
  EXPECT_EQ(ParseMessageEncoding("deflate").value(), GRPC_COMPRESS_DEFLATE);
}

TEST(ParseMessageEncoding, AnotherIsUnimplementedNamingItAndTheSupportedOnes) {
  for (absl::string_view name : {"br", "snappy", "zstd", "gzip, br"}) {
    const absl::StatusOr<grpc_compression_algorithm> encoding = ParseMessageEncoding(name);
    ASSERT_FALSE(encoding.ok()) << name;
    EXPECT_EQ(encoding.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(encoding.status().message(), HasSubstr(absl::StrCat("\"", name, "\"")));
    EXPECT_THAT(encoding.status().message(), HasSubstr("identity,deflate,gzip"));
  }
  // The client's text is cut short and escaped.
  const std::string long_name(500, 'x');
  EXPECT_LT(ParseMessageEncoding(long_name).status().message().size(), 150u);
  EXPECT_THAT(ParseMessageEncoding("a\r\nb").status().message(), HasSubstr("a\\r\\nb"));
}

TEST(ToWireMessage, TheFlagSaysWhetherThisMessageIsCompressed) {
  absl::StatusOr<WireMessage> compressed =
      ToWireMessage({.flags = kCompressedFlag, .payload = "zzz"}, GRPC_COMPRESS_GZIP);
  ASSERT_TRUE(compressed.ok()) << compressed.status();
  EXPECT_EQ(compressed->bytes, "zzz");
  EXPECT_EQ(compressed->compression, GRPC_COMPRESS_GZIP);

  // The flag is per message: an uncompressed one in a gzip call is as it is.
  absl::StatusOr<WireMessage> plain =
      ToWireMessage({.flags = 0, .payload = "abc"}, GRPC_COMPRESS_GZIP);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->bytes, "abc");
  EXPECT_EQ(plain->compression, GRPC_COMPRESS_NONE);

  EXPECT_EQ(ToWireMessage({.flags = 0, .payload = "abc"}, GRPC_COMPRESS_NONE)->compression,
            GRPC_COMPRESS_NONE);
}

TEST(ToWireMessage, ACompressedMessageWithoutAnEncodingIsInternal) {
  const absl::StatusOr<WireMessage> message =
      ToWireMessage({.flags = kCompressedFlag, .payload = "zzz"}, GRPC_COMPRESS_NONE);
  EXPECT_EQ(message.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(message.status().message(), HasSubstr("grpc-encoding"));
}

std::string ReadAll(grpc_byte_buffer* buffer) {
  grpc_byte_buffer_reader reader;
  EXPECT_TRUE(grpc_byte_buffer_reader_init(&reader, buffer));
  grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
  std::string out(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                  GRPC_SLICE_LENGTH(slice));
  grpc_slice_unref(slice);
  grpc_byte_buffer_reader_destroy(&reader);
  return out;
}

TEST(WireMessageSerialization, TheBufferCarriesTheBytesAndTheirCompression) {
  for (grpc_compression_algorithm compression : {GRPC_COMPRESS_NONE, GRPC_COMPRESS_GZIP}) {
    grpc_byte_buffer* buffer = nullptr;
    bool own = false;
    const grpc::Status status = grpc::SerializationTraits<WireMessage>::Serialize(
        {.bytes = std::string("a\0b", 3), .compression = compression}, &buffer, &own);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NE(buffer, nullptr);
    EXPECT_TRUE(own);
    EXPECT_EQ(buffer->type, GRPC_BB_RAW);
    EXPECT_EQ(buffer->data.raw.compression, compression);
    EXPECT_EQ(ReadAll(buffer), std::string("a\0b", 3));
    grpc_byte_buffer_destroy(buffer);
  }
}

// zlib's format for "deflate" (what gRPC means by it), gzip's for "gzip".
std::string Compress(absl::string_view bytes, grpc_compression_algorithm algorithm) {
  z_stream stream{};
  const int window_bits = algorithm == GRPC_COMPRESS_GZIP ? 15 + 16 : 15;
  EXPECT_EQ(
      deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// A real gRPC server that answers each call with the message it received
// (its gRPC library decompresses it as the call's grpc-encoding and the
// message's flag say).
class EchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  EchoReactor() { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer message_;
};

class EchoService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* /*context*/) override {
    return new EchoReactor();
  }
};

// One call made the way WebCall makes it: the call's algorithm from the
// request's encoding, the message written with no compression of its own.
class OneCall final : public grpc::ClientBidiReactor<WireMessage, grpc::ByteBuffer> {
 public:
  OneCall(WebStub* stub, WireMessage message, grpc_compression_algorithm encoding)
      : request_(std::move(message)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (encoding != GRPC_COMPRESS_NONE) {
      context_.set_compression_algorithm(encoding);
    }
    stub->PrepareBidiStreamingCall(&context_, "/test.Echo/Echo", grpc::StubOptions(), this);
    grpc::WriteOptions options;
    options.set_no_compression();
    StartWriteLast(&request_, options);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      grpc::Slice slice;
      EXPECT_TRUE(response_.DumpToSingleSlice(&slice).ok());
      answer_.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }

  // The status, with the echoed message in `answer`.
  grpc::Status Wait(std::string* answer) {
    done_.WaitForNotification();
    *answer = answer_;
    return status_;
  }

 private:
  grpc::ClientContext context_;
  WireMessage request_;
  grpc::ByteBuffer response_;
  std::string answer_;
  grpc::Status status_;
  absl::Notification done_;
};

class PassThroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = std::make_unique<WebStub>(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                          grpc::InsecureChannelCredentials()));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Call(WireMessage message, grpc_compression_algorithm encoding, std::string* answer) {
    OneCall call(stub_.get(), std::move(message), encoding);
    return call.Wait(answer);
  }

  EchoService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<WebStub> stub_;
};

const std::string kMessage =
    "a request message long enough to be worth compressing, compressing, compressing";

TEST_F(PassThroughTest, ACompressedMessageReachesTheServerCompressedOnce) {
  for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    std::string answer;
    // Sent with the compressed flag and not compressed again: the server's
    // one decompression gives the original back.
    const grpc::Status status = Call(
        {.bytes = Compress(kMessage, algorithm), .compression = algorithm}, algorithm, &answer);
    ASSERT_TRUE(status.ok()) << algorithm << ": " << status.error_message();
    EXPECT_EQ(answer, kMessage) << algorithm;
  }
}

TEST_F(PassThroughTest, AnUncompressedMessageInACompressedCallArrivesAsItIs) {
  std::string answer;
  const grpc::Status status =
      Call({.bytes = kMessage, .compression = GRPC_COMPRESS_NONE}, GRPC_COMPRESS_GZIP, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer, kMessage);
}

TEST_F(PassThroughTest, WithoutAnEncodingNothingIsCompressed) {
  std::string answer;
  const grpc::Status status =
      Call({.bytes = kMessage, .compression = GRPC_COMPRESS_NONE}, GRPC_COMPRESS_NONE, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer, kMessage);
}

// A listener that speaks just enough HTTP/2 for a gRPC client to send it a
// call (its SETTINGS, and an ACK of the client's), and keeps the call's first
// message exactly as it was on the wire: the compressed flag, the length, the
// bytes.
class WireTap {
 public:
  WireTap() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 1) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
  }
  WireTap(const WireTap&) = delete;
  WireTap& operator=(const WireTap&) = delete;
  ~WireTap() {
    if (fd_ >= 0) {
      close(fd_);
    }
    close(listen_fd_);
  }

  int port() const { return port_; }

  // The first gRPC message frame of the first connection; closes it then
  // (the call fails, which does not matter here).
  absl::StatusOr<std::string> FirstMessageFrame() {
    deadline_ = absl::Now() + absl::Seconds(10);
    if (!Wait(listen_fd_)) {
      return absl::DeadlineExceededError("no connection");
    }
    fd_ = accept(listen_fd_, nullptr, nullptr);
    if (fd_ < 0) {
      return absl::InternalError("accept failed");
    }
    Send(std::string("\0\0\0\x04\0\0\0\0\0", 9));  // our SETTINGS (empty)
    std::string preface;
    if (!Read(24, &preface)) {
      return absl::DataLossError("no connection preface");
    }
    std::string data;  // stream 1's DATA frames' payloads
    for (;;) {
      std::string header;
      std::string payload;
      if (!Read(9, &header)) {
        return absl::DataLossError("the connection ended before a whole message");
      }
      const auto byte = [&header](int i) { return static_cast<uint8_t>(header[i]); };
      const size_t length = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
      const uint8_t type = byte(3);
      const uint8_t flags = byte(4);
      if (!Read(length, &payload)) {
        return absl::DataLossError("a frame ends early");
      }
      if (type == 0x4 && (flags & 0x1) == 0) {
        Send(std::string("\0\0\0\x04\x01\0\0\0\0", 9));  // SETTINGS ACK
      }
      if (type == 0x0) {                               // DATA
        if ((flags & 0x8) != 0 && !payload.empty()) {  // PADDED
          const size_t pad = static_cast<uint8_t>(payload[0]);
          payload = payload.substr(1, payload.size() - 1 - std::min(pad, payload.size() - 1));
        }
        data += payload;
      }
      if (data.size() >= 5) {
        const size_t message_length = (size_t{static_cast<uint8_t>(data[1])} << 24) |
                                      (size_t{static_cast<uint8_t>(data[2])} << 16) |
                                      (size_t{static_cast<uint8_t>(data[3])} << 8) |
                                      static_cast<uint8_t>(data[4]);
        if (data.size() >= 5 + message_length) {
          close(fd_);
          fd_ = -1;
          return data.substr(0, 5 + message_length);
        }
      }
    }
  }

 private:
  bool Wait(int fd) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int64_t ms = absl::ToInt64Milliseconds(deadline_ - absl::Now());
    return ms > 0 && poll(&p, 1, static_cast<int>(ms)) == 1;
  }

  bool Read(size_t n, std::string* out) {
    out->clear();
    char buffer[4096];
    while (out->size() < n) {
      if (!Wait(fd_)) {
        return false;
      }
      const ssize_t got = recv(fd_, buffer, std::min(sizeof(buffer), n - out->size()), 0);
      if (got <= 0) {
        return false;
      }
      out->append(buffer, static_cast<size_t>(got));
    }
    return true;
  }

  void Send(const std::string& bytes) {
    EXPECT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
  absl::Time deadline_;
};

// What the backend is sent for `message` in a call with `encoding`: the
// message's gRPC frame as it was on the wire.
absl::StatusOr<std::string> FrameOnTheWire(WireMessage message,
                                           grpc_compression_algorithm encoding) {
  WireTap tap;
  WebStub stub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", tap.port()),
                                   grpc::InsecureChannelCredentials()));
  OneCall call(&stub, std::move(message), encoding);
  absl::StatusOr<std::string> frame = tap.FirstMessageFrame();
  std::string ignored;
  call.Wait(&ignored);
  return frame;
}

TEST(OnTheWire, ACompressedMessageGoesAsItCameWithTheFlagSet) {
  const std::string compressed = Compress(kMessage, GRPC_COMPRESS_GZIP);
  const absl::StatusOr<std::string> frame =
      FrameOnTheWire({.bytes = compressed, .compression = GRPC_COMPRESS_GZIP}, GRPC_COMPRESS_GZIP);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(*frame, EncodeFrame(kCompressedFlag, compressed));
}

TEST(OnTheWire, AnUncompressedMessageInAGzipCallIsNotCompressedByTheGateway) {
  const absl::StatusOr<std::string> frame =
      FrameOnTheWire({.bytes = kMessage, .compression = GRPC_COMPRESS_NONE}, GRPC_COMPRESS_GZIP);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(*frame, EncodeFrame(0, kMessage));
}

}  // namespace
}  // namespace crm::gateway
