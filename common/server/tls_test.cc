#include "common/server/tls.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/client/tls_options.h"
#include "common/log/log.h"
#include "common/server/runner.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

using client::ClientTlsOptions;
using client::CreateServiceChannel;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Every field spelled out: GCC 12 warns about designated initializers that
// leave some out.
ServerTlsOptions ServerTls(std::string cert, std::string key, std::string client_ca) {
  return ServerTlsOptions{.cert_file = std::move(cert),
                          .key_file = std::move(key),
                          .client_ca_file = std::move(client_ca)};
}

ClientTlsOptions ClientTls(std::string ca, std::string cert = "", std::string key = "") {
  return ClientTlsOptions{
      .ca_file = std::move(ca), .cert_file = std::move(cert), .key_file = std::move(key)};
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<testing::TestPki>> pki = testing::TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = pki->release();
  }

  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  static std::string Path(const std::string& name) { return pki_->Path(name); }
  static std::string Read(const std::string& name) { return pki_->Read(name); }

  static ServerTlsOptions MutualTls() {
    return ServerTls(Path("server.crt"), Path("server.key"), Path("ca.crt"));
  }

  static ServerTlsOptions ServerOnlyTls() {
    return ServerTls(Path("server.crt"), Path("server.key"), "");
  }

  static RunnerOptions Options(ServerTlsOptions tls) {
    RunnerOptions options;
    options.service = "tls-test";
    options.listen = "127.0.0.1:0";
    options.drain = absl::ZeroDuration();
    options.tls = std::move(tls);
    return options;
  }

  void StartRunner(ServerTlsOptions tls) {
    runner_ = std::make_unique<Runner>(Options(std::move(tls)));
    const absl::Status status = runner_->Start();
    ASSERT_TRUE(status.ok()) << status;
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", runner_->port()); }

  // SSL credentials trusting `ca`, presenting `cert`/`key` when given.
  std::shared_ptr<grpc::ChannelCredentials> Ssl(const std::string& ca, const std::string& cert = "",
                                                const std::string& key = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(ca);
    if (!cert.empty()) {
      ssl.pem_cert_chain = Read(cert);
      ssl.pem_private_key = Read(key);
    }
    return grpc::SslCredentials(ssl);
  }

  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return grpc::CreateChannel(Address(), credentials);
  }

  // Health/Check; the status name ("SERVING") or the call's error code name.
  static std::string Check(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(client::DeadlineAfter(absl::Seconds(5)));
    HealthCheckResponse response;
    const grpc::Status status =
        Health::NewStub(channel)->Check(&context, HealthCheckRequest(), &response);
    if (!status.ok()) {
      return status.error_code() == grpc::StatusCode::UNAVAILABLE
                 ? "UNAVAILABLE"
                 : absl::StrCat("code ", status.error_code());
    }
    return HealthCheckResponse::ServingStatus_Name(response.status());
  }

  static testing::TestPki* pki_;
  std::unique_ptr<Runner> runner_;
};

testing::TestPki* TlsTest::pki_ = nullptr;

// --- Mutual TLS. ---

TEST_F(TlsTest, MutualTlsAcceptsClientWithCertificateFromTheCa) {
  StartRunner(MutualTls());
  EXPECT_EQ(Check(Channel(Ssl("ca.crt", "client.crt", "client.key"))), "SERVING");
}

TEST_F(TlsTest, MutualTlsViaCreateServiceChannel) {
  StartRunner(MutualTls());
  auto channel = CreateServiceChannel(
      Address(), ClientTls(Path("ca.crt"), Path("client.crt"), Path("client.key")));
  EXPECT_EQ(Check(channel), "SERVING");
}

TEST_F(TlsTest, MutualTlsRefusesClientWithoutCertificate) {
  StartRunner(MutualTls());
  EXPECT_EQ(Check(Channel(Ssl("ca.crt"))), "UNAVAILABLE");
}

TEST_F(TlsTest, MutualTlsRefusesCertificateFromAnotherCa) {
  StartRunner(MutualTls());
  EXPECT_EQ(Check(Channel(Ssl("ca.crt", "rogue.crt", "rogue.key"))), "UNAVAILABLE");
}

TEST_F(TlsTest, MutualTlsRefusesPlaintextClient) {
  StartRunner(MutualTls());
  EXPECT_EQ(Check(Channel(grpc::InsecureChannelCredentials())), "UNAVAILABLE");
}

// --- The client checks the server too. ---

TEST_F(TlsTest, ClientRefusesServerFromAnotherCa) {
  StartRunner(MutualTls());
  EXPECT_EQ(Check(Channel(Ssl("other_ca.crt", "client.crt", "client.key"))), "UNAVAILABLE");
}

TEST_F(TlsTest, ClientRefusesServerThatDoesNotCarryTheName) {
  StartRunner(ServerOnlyTls());
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("crm-auth.example");
  EXPECT_EQ(Check(grpc::CreateCustomChannel(Address(), Ssl("ca.crt"), args)), "UNAVAILABLE");
  grpc::ChannelArguments localhost;
  localhost.SetSslTargetNameOverride("localhost");  // the certificate's DNS name
  EXPECT_EQ(Check(grpc::CreateCustomChannel(Address(), Ssl("ca.crt"), localhost)), "SERVING");
}

// --- TLS without client certificates. ---

TEST_F(TlsTest, TlsWithoutClientCaAcceptsClientWithoutCertificate) {
  StartRunner(ServerOnlyTls());
  EXPECT_EQ(Check(Channel(Ssl("ca.crt"))), "SERVING");
  auto channel = CreateServiceChannel(Address(), ClientTls(Path("ca.crt")));
  EXPECT_EQ(Check(channel), "SERVING");
}

TEST_F(TlsTest, TlsRefusesPlaintextClient) {
  StartRunner(ServerOnlyTls());
  EXPECT_EQ(Check(Channel(grpc::InsecureChannelCredentials())), "UNAVAILABLE");
}

TEST_F(TlsTest, PlaintextByDefault) {
  StartRunner(ServerTlsOptions());
  auto channel = CreateServiceChannel(Address(), ClientTlsOptions());
  EXPECT_EQ(Check(channel), "SERVING");
  EXPECT_EQ(Check(Channel(Ssl("ca.crt"))), "UNAVAILABLE");
  EXPECT_EQ(RunnerOptions().listen, "127.0.0.1:0");
  EXPECT_FALSE(RunnerOptions().tls.enabled());
}

TEST_F(TlsTest, ServingLogLineSaysWhetherTlsIsOn) {
  std::string logs;
  log::CaptureForTesting(&logs);
  StartRunner(MutualTls());
  runner_->Stop();
  runner_.reset();
  StartRunner(ServerTlsOptions());
  runner_->Stop();
  log::CaptureForTesting(nullptr);
  EXPECT_THAT(logs, HasSubstr("\"tls\":\"mtls\""));
  EXPECT_THAT(logs, HasSubstr("\"tls\":\"off\""));
}

// --- Bad files fail Start() with the flag and the path, not the content. ---

TEST_F(TlsTest, MissingCertificateFileFailsStart) {
  ServerTlsOptions tls = MutualTls();
  tls.cert_file = Path("nope.crt");
  Runner runner(Options(tls));
  const absl::Status status = runner.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("--tls_cert_file"), HasSubstr(Path("nope.crt"))));
}

TEST_F(TlsTest, MissingClientCaFileFailsStart) {
  ServerTlsOptions tls = MutualTls();
  tls.client_ca_file = Path("nope-ca.crt");
  Runner runner(Options(tls));
  const absl::Status status = runner.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("--tls_client_ca_file"), HasSubstr(Path("nope-ca.crt"))));
}

TEST_F(TlsTest, KeyInPlaceOfCertificateIsRefusedWithoutShowingIt) {
  ServerTlsOptions tls = ServerOnlyTls();
  tls.cert_file = Path("server.key");
  auto credentials = MakeServerCredentials(tls);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(credentials.status().message()),
              AllOf(HasSubstr("--tls_cert_file"), HasSubstr("no PEM certificate"),
                    Not(HasSubstr("PRIVATE KEY"))));
}

TEST_F(TlsTest, KeyThatDoesNotMatchTheCertificateIsRefused) {
  ServerTlsOptions tls = ServerOnlyTls();
  tls.key_file = Path("client.key");
  auto credentials = MakeServerCredentials(tls);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(credentials.status().message()),
              AllOf(HasSubstr("--tls_key_file"), HasSubstr("does not match")));
}

TEST_F(TlsTest, IncompleteOptionsAreInvalid) {
  EXPECT_EQ(ValidateServerTlsOptions(ServerTls(Path("server.crt"), "", "")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateServerTlsOptions(ServerTls("", "", Path("ca.crt"))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client::ValidateClientTlsOptions(ClientTls("", "c", "k")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client::ValidateClientTlsOptions(ClientTls("a", "c", "")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(client::ValidateClientTlsOptions(ClientTlsOptions()).ok());
}

TEST_F(TlsTest, LoadClientTlsReportsMissingCaFile) {
  auto ssl = client::LoadClientTls(ClientTls(Path("nope-ca.crt")));
  EXPECT_EQ(ssl.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ssl.status().message()),
              AllOf(HasSubstr("--tls_ca_file"), HasSubstr(Path("nope-ca.crt"))));
}

TEST_F(TlsTest, ChannelWithUnloadableTlsFailsClosed) {
  StartRunner(ServerTlsOptions());  // plaintext: would answer if the client fell back to it
  std::string logs;
  log::CaptureForTesting(&logs);
  auto channel = CreateServiceChannel(Address(), ClientTls(Path("nope-ca.crt")));
  log::CaptureForTesting(nullptr);
  EXPECT_NE(Check(channel), "SERVING");
  EXPECT_THAT(logs, HasSubstr("cannot set up TLS"));
  // A client certificate without a CA is a mistake, not a request for plaintext.
  EXPECT_NE(
      Check(CreateServiceChannel(Address(), ClientTls("", Path("client.crt"), Path("client.key")))),
      "SERVING");
}

TEST(DeadlineAfterTest, IsThatFarFromNow) {
  const auto deadline = client::DeadlineAfter(absl::Seconds(3));
  const auto left = deadline - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::milliseconds(2500));
  EXPECT_LE(left, std::chrono::seconds(3));
}

}  // namespace
}  // namespace crm::server
