#include "services/gateway/message_encoding.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
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

// `bytes` deflated with zlib's window bits: 15 the zlib format, 15 + 16
// gzip's, -15 raw deflate. A gzip header may carry a name and its own CRC.
std::string Deflate(absl::string_view bytes, int window_bits, gz_header* header = nullptr) {
  z_stream stream{};
  EXPECT_EQ(
      deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  if (header != nullptr) {
    EXPECT_EQ(deflateSetHeader(&stream, header), Z_OK);
  }
  std::string out(deflateBound(&stream, bytes.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// zlib's format for "deflate" (what gRPC means by it), gzip's for "gzip".
std::string Compress(absl::string_view bytes, grpc_compression_algorithm algorithm) {
  return Deflate(bytes, algorithm == GRPC_COMPRESS_GZIP ? 15 + 16 : 15);
}

// `count` zero bytes compressed, made a MiB at a time so that a bomb's
// inflated size is never in memory here either.
std::string CompressZeros(size_t count, grpc_compression_algorithm algorithm) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED,
                         algorithm == GRPC_COMPRESS_GZIP ? 15 + 16 : 15, 8, Z_RLE),
            Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buffer[1 << 16];
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    const size_t chunk = std::min(count, zeros.size());
    count -= chunk;
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    stream.avail_in = static_cast<uInt>(chunk);
    do {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof(buffer);
      result = deflate(&stream, count == 0 ? Z_FINISH : Z_NO_FLUSH);
      EXPECT_NE(result, Z_STREAM_ERROR);
      out.append(buffer, sizeof(buffer) - stream.avail_out);
    } while (stream.avail_out == 0);
  }
  deflateEnd(&stream);
  return out;
}

const std::string kMessage =
    "a request message long enough to be worth compressing, compressing, compressing";

constexpr size_t kLimit = 4 << 20;

absl::string_view NameOf(grpc_compression_algorithm algorithm) {
  return algorithm == GRPC_COMPRESS_GZIP ? "gzip" : "deflate";
}

TEST(CheckInflatedSize, SmallGzipAndDeflateMessagesPass) {
  for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    EXPECT_TRUE(CheckInflatedSize(algorithm, Compress(kMessage, algorithm), kLimit).ok())
        << NameOf(algorithm);
    EXPECT_TRUE(CheckInflatedSize(algorithm, Compress("", algorithm), kLimit).ok())
        << NameOf(algorithm) << " of nothing";
  }
}

TEST(CheckInflatedSize, ExactlyTheLimitPassesAndOneByteMoreDoesNot) {
  // Sizes around and on the scratch buffer's, and the default limit itself.
  for (const size_t size :
       {size_t{1}, size_t{1000}, size_t{16 << 10}, size_t{(16 << 10) + 1}, size_t{4 << 20}}) {
    std::string message(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      message[i] = static_cast<char>((i * 7919) % 251);  // not all one byte
    }
    for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
      const std::string compressed = Compress(message, algorithm);
      const absl::Status at_limit = CheckInflatedSize(algorithm, compressed, size);
      EXPECT_TRUE(at_limit.ok()) << NameOf(algorithm) << " of " << size << ": " << at_limit;
      EXPECT_EQ(CheckInflatedSize(algorithm, compressed, size - 1).code(),
                absl::StatusCode::kResourceExhausted)
          << NameOf(algorithm) << " of " << size;
    }
  }
}

TEST(CheckInflatedSize, AnUncompressedMessageIsItsOwnSize) {
  EXPECT_TRUE(CheckInflatedSize(GRPC_COMPRESS_NONE, "abc", 3).ok());
  EXPECT_EQ(CheckInflatedSize(GRPC_COMPRESS_NONE, "abc", 2).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(CheckInflatedSize, ABombIsResourceExhaustedNamingTheLimit) {
  for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    const std::string bomb = CompressZeros(8 << 20, algorithm);
    ASSERT_LT(bomb.size(), 64u << 10) << NameOf(algorithm);
    const absl::Status status = CheckInflatedSize(algorithm, bomb, kLimit);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("the ", NameOf(algorithm),
                                                         " request message, inflated, exceeds "
                                                         "the limit of 4194304 bytes")));
  }
}

// The check keeps nothing it inflates: its memory is zlib's state and the
// scratch buffer, however far the message would inflate.
TEST(CheckInflatedSize, ABombCostsNoMemoryForItsInflatedSize) {
  const std::string bomb = CompressZeros(size_t{512} << 20, GRPC_COMPRESS_GZIP);
  ASSERT_LT(bomb.size(), 1u << 20);
  rusage before{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &before), 0);
  const absl::Status status = CheckInflatedSize(GRPC_COMPRESS_GZIP, bomb, kLimit);
  rusage after{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &after), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  // ru_maxrss is the peak, in KiB: inflating all 512 MiB would raise it so.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 << 10);
}

TEST(CheckInflatedSize, NoBytesAreAnEmptyMessage) {
  // gRPC's decompression takes an empty input as an empty message.
  EXPECT_TRUE(CheckInflatedSize(GRPC_COMPRESS_GZIP, "", kLimit).ok());
  EXPECT_TRUE(CheckInflatedSize(GRPC_COMPRESS_DEFLATE, "", kLimit).ok());
}

// Compressed bytes that gRPC's decompression refuses, for `algorithm`, named.
std::vector<std::pair<std::string, std::string>> DoNotInflate(
    grpc_compression_algorithm algorithm) {
  const std::string good = Compress(kMessage, algorithm);
  std::string bad_check = good;
  // gzip ends with the CRC-32 and the size, zlib with the Adler-32.
  bad_check[good.size() - (algorithm == GRPC_COMPRESS_GZIP ? 8 : 1)] ^= 0x01;
  const grpc_compression_algorithm other =
      algorithm == GRPC_COMPRESS_GZIP ? GRPC_COMPRESS_DEFLATE : GRPC_COMPRESS_GZIP;
  return {
      {"not compressed at all", "not compressed at all"},
      {"cut short by a byte", good.substr(0, good.size() - 1)},
      {"cut short in the middle", good.substr(0, good.size() / 2)},
      {"just the header", good.substr(0, algorithm == GRPC_COMPRESS_GZIP ? 10 : 2)},
      {"a byte after the end", good + "x"},
      {"two streams one after the other", good + good},
      {"a wrong check value", bad_check},
      {"raw deflate (no zlib or gzip header)", Deflate(kMessage, -15)},
      {"the other format", Compress(kMessage, other)},
  };
}

TEST(CheckInflatedSize, BytesThatDoNotInflateAreInternal) {
  for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    for (const auto& [name, bytes] : DoNotInflate(algorithm)) {
      const absl::Status status = CheckInflatedSize(algorithm, bytes, kLimit);
      EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << NameOf(algorithm) << ", " << name;
      EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("the ", NameOf(algorithm),
                                                           " request message does not "
                                                           "decompress: ")))
          << NameOf(algorithm) << ", " << name;
    }
  }
  // A cut-short stream says so, rather than only zlib's code.
  EXPECT_THAT(CheckInflatedSize(GRPC_COMPRESS_GZIP,
                                Compress(kMessage, GRPC_COMPRESS_GZIP).substr(0, 20), kLimit)
                  .message(),
              HasSubstr("ends early"));
  EXPECT_THAT(
      CheckInflatedSize(GRPC_COMPRESS_GZIP, Compress(kMessage, GRPC_COMPRESS_GZIP) + "x", kLimit)
          .message(),
      HasSubstr("bytes follow"));
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

// The check mirrors gRPC 1.51's decompression: what the server's gRPC
// inflates passes, what it cannot is refused, case by case.
TEST_F(PassThroughTest, TheSizeCheckAcceptsWhatTheServersGrpcDecompresses) {
  for (grpc_compression_algorithm algorithm : {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    std::vector<std::pair<std::string, std::string>> cases = DoNotInflate(algorithm);
    cases.emplace_back("a valid message", Compress(kMessage, algorithm));
    cases.emplace_back("no bytes", "");
    cases.emplace_back("an empty message compressed", Compress("", algorithm));
    if (algorithm == GRPC_COMPRESS_GZIP) {
      char name[] = "request.bin";
      gz_header header{};
      header.name = reinterpret_cast<Bytef*>(name);
      header.hcrc = 1;
      cases.emplace_back("gzip with a file name and a header CRC",
                         Deflate(kMessage, 15 + 16, &header));
    }
    for (const auto& [name, bytes] : cases) {
      std::string answer;
      const grpc::Status grpc_status =
          Call({.bytes = bytes, .compression = algorithm}, algorithm, &answer);
      const absl::Status check = CheckInflatedSize(algorithm, bytes, kLimit);
      EXPECT_EQ(check.ok(), grpc_status.ok())
          << NameOf(algorithm) << ", " << name << ": gRPC says " << grpc_status.error_code() << " "
          << grpc_status.error_message() << "; the check says " << check;
      if (!grpc_status.ok()) {
        EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::INTERNAL)
            << NameOf(algorithm) << ", " << name << ": " << grpc_status.error_message();
      }
    }
  }
}

// And the limit is where gRPC draws its own (a server's 4 MiB by default):
// a message inflating to exactly it passes, one byte more does not.
TEST_F(PassThroughTest, TheSizeCheckDrawsTheLimitWhereTheServersGrpcDoes) {
  for (const size_t size : {kLimit, kLimit + 1}) {
    std::string message(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      message[i] = static_cast<char>((i * 7919) % 251);
    }
    const std::string compressed = Compress(message, GRPC_COMPRESS_GZIP);
    std::string answer;
    const grpc::Status grpc_status =
        Call({.bytes = compressed, .compression = GRPC_COMPRESS_GZIP}, GRPC_COMPRESS_GZIP, &answer);
    const absl::Status check = CheckInflatedSize(GRPC_COMPRESS_GZIP, compressed, kLimit);
    EXPECT_EQ(check.ok(), grpc_status.ok())
        << size << ": gRPC says " << grpc_status.error_code() << " " << grpc_status.error_message()
        << "; the check says " << check;
    if (!grpc_status.ok()) {
      EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << grpc_status.error_message();
      EXPECT_EQ(check.code(), absl::StatusCode::kResourceExhausted);
    }
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
