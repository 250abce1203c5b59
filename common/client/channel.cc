#include "common/client/channel.h"

#include <algorithm>
#include <utility>

#include "common/deadline/call_scope.h"
#include "common/log/log.h"
#include "grpcpp/create_channel.h"

namespace crm::client {

absl::StatusOr<grpc::SslCredentialsOptions> LoadClientTls(const ClientTlsOptions& tls) {
  if (absl::Status status = ValidateClientTlsOptions(tls); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::string> roots = LoadCertificates("--tls_ca_file", tls.ca_file);
  if (!roots.ok()) {
    return roots.status();
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *std::move(roots);
  if (!tls.cert_file.empty()) {
    absl::StatusOr<PemKeyCertPair> pair = LoadKeyCertPair("--tls_client_cert_file", tls.cert_file,
                                                          "--tls_client_key_file", tls.key_file);
    if (!pair.ok()) {
      return pair.status();
    }
    ssl.pem_private_key = std::move(pair->private_key);
    ssl.pem_cert_chain = std::move(pair->cert_chain);
  }
  return ssl;
}

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& address,
                                                    const ClientTlsOptions& tls) {
  return CreateServiceChannel(address, tls, grpc::ChannelArguments());
}

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& address,
                                                    const ClientTlsOptions& tls,
                                                    const grpc::ChannelArguments& args) {
  if (!tls.enabled() && ValidateClientTlsOptions(tls).ok()) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  absl::StatusOr<grpc::SslCredentialsOptions> ssl = LoadClientTls(tls);
  if (!ssl.ok()) {
    log::Error("cannot set up TLS for calls; every call will fail")
        .Str("target", address)
        .Str("error", std::string(ssl.status().message()));
    // gRPC turns null credentials into a "lame" channel that fails every call.
    return grpc::CreateCustomChannel(address, nullptr, args);
  }
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(*ssl), args);
}

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

std::chrono::system_clock::time_point OutgoingDeadline(absl::Duration cap) {
  return absl::ToChronoTime(std::min(absl::Now() + cap, CurrentDeadline()));
}

}  // namespace crm::client
