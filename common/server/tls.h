#pragma once

// Transport security of a service's listening port, from --tls_cert_file,
// --tls_key_file and --tls_client_ca_file:
//   - no certificate: plaintext (the default; meant for loopback only);
//   - certificate and key: TLS;
//   - plus a client CA: mutual TLS, where every client must present a
//     certificate that chains to that CA, or its handshake fails.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace crm::server {

struct ServerTlsOptions {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // its PEM private key
  std::string client_ca_file;  // PEM CA bundle; set: clients must present a certificate

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
  // "off", "tls" or "mtls", for logs.
  const char* Mode() const;
};

// INVALID_ARGUMENT for combinations that make no sense (a key without a
// certificate, a client CA without TLS), naming the flags.
absl::Status ValidateServerTlsOptions(const ServerTlsOptions& options);

// Reads and checks the files of enabled `options`: INVALID_ARGUMENT as above,
// or FAILED_PRECONDITION naming the flag and the path when a file is missing,
// unreadable or not what it should be (no PEM, an encrypted key, a key that
// does not match the certificate). InitService calls it to fail fast.
absl::StatusOr<grpc::SslServerCredentialsOptions> LoadServerTls(const ServerTlsOptions& options);

// Insecure credentials when TLS is off; otherwise SSL credentials from
// LoadServerTls, with its errors.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

}  // namespace crm::server
