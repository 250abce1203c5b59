// crm-health <host:port> [--service=NAME] [--timeout_ms=N]
//            [--ca_file=CA.crt [--cert_file=CLIENT.crt --key_file=CLIENT.key]]
// Calls grpc.health.v1.Health/Check once and prints the status. Exits 0 only
// when SERVING, 1 otherwise, 2 on bad usage. Used by tools/crm and scripts.
// With --ca_file the call goes over TLS (the server's certificate must chain
// to that CA and name the host); --cert_file/--key_file add the client
// certificate a mutual-TLS server requires.

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/files/read_file.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, service, "", "service name to check; empty checks the whole server");
ABSL_FLAG(int32_t, timeout_ms, 2000, "deadline of the call");
ABSL_FLAG(std::string, ca_file, "", "PEM CA that verifies the server; set: call over TLS");
ABSL_FLAG(std::string, cert_file, "", "PEM client certificate for mutual TLS (with --key_file)");
ABSL_FLAG(std::string, key_file, "", "PEM private key of --cert_file");

namespace {

// The file's content, or exits 2 naming the flag and the path.
std::string ReadOrExit(const char* flag, const std::string& path) {
  absl::StatusOr<std::string> content = crm::ReadFileToString(path);
  if (!content.ok() || content->empty()) {
    std::cerr << "crm-health: --" << flag << ": cannot read " << path << "\n";
    std::exit(2);
  }
  return *content;
}

std::shared_ptr<grpc::ChannelCredentials> Credentials() {
  const std::string ca_file = absl::GetFlag(FLAGS_ca_file);
  const std::string cert_file = absl::GetFlag(FLAGS_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_key_file);
  if (cert_file.empty() != key_file.empty() || (!cert_file.empty() && ca_file.empty())) {
    std::cerr << "crm-health: --cert_file and --key_file go together, and need --ca_file\n";
    std::exit(2);
  }
  if (ca_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadOrExit("ca_file", ca_file);
  if (!cert_file.empty()) {
    ssl.pem_cert_chain = ReadOrExit("cert_file", cert_file);
    ssl.pem_private_key = ReadOrExit("key_file", key_file);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "usage: crm-health <host:port> [--service=NAME] [--timeout_ms=N] "
                 "[--ca_file=F [--cert_file=F --key_file=F]]\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(args[1], Credentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cout << "ERROR " << status.error_code() << " " << status.error_message() << "\n";
    return 1;
  }
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}
