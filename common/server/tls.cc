#include "common/server/tls.h"

#include <utility>

#include "common/client/tls_options.h"
#include "grpc/grpc_security_constants.h"

namespace crm::server {

const char* ServerTlsOptions::Mode() const {
  if (!enabled()) {
    return "off";
  }
  return mutual() ? "mtls" : "tls";
}

absl::Status ValidateServerTlsOptions(const ServerTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together: set both or neither");
  }
  if (options.mutual() && !options.enabled()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file needs --tls_cert_file and --tls_key_file (mutual TLS is TLS)");
  }
  return absl::OkStatus();
}

absl::StatusOr<grpc::SslServerCredentialsOptions> LoadServerTls(const ServerTlsOptions& options) {
  if (absl::Status status = ValidateServerTlsOptions(options); !status.ok()) {
    return status;
  }
  absl::StatusOr<client::PemKeyCertPair> pair = client::LoadKeyCertPair(
      "--tls_cert_file", options.cert_file, "--tls_key_file", options.key_file);
  if (!pair.ok()) {
    return pair.status();
  }
  grpc::SslServerCredentialsOptions ssl(
      options.mutual() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                       : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (options.mutual()) {
    absl::StatusOr<std::string> roots =
        client::LoadCertificates("--tls_client_ca_file", options.client_ca_file);
    if (!roots.ok()) {
      return roots.status();
    }
    ssl.pem_root_certs = *std::move(roots);
  }
  ssl.pem_key_cert_pairs.push_back(grpc::SslServerCredentialsOptions::PemKeyCertPair{
      .private_key = std::move(pair->private_key), .cert_chain = std::move(pair->cert_chain)});
  return ssl;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (!options.enabled() && !options.mutual()) {
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<grpc::SslServerCredentialsOptions> ssl = LoadServerTls(options);
  if (!ssl.ok()) {
    return ssl.status();
  }
  return grpc::SslServerCredentials(*ssl);
}

}  // namespace crm::server
