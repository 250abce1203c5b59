#pragma once

// Transport security settings for calls a process makes to other services,
// and the PEM loading shared with the server side (common/server/tls.h).
//
// Loading checks what gRPC would only report as a failed handshake or a
// failed bind: files exist and are readable, hold PEM, and a certificate
// matches its key. Errors name the flag and the path, never the content.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::client {

// Flags --tls_ca_file, --tls_client_cert_file, --tls_client_key_file.
// No ca_file: plaintext (loopback development only).
struct ClientTlsOptions {
  std::string ca_file;    // PEM CA bundle that verifies the services called
  std::string cert_file;  // PEM certificate chain presented for mutual TLS
  std::string key_file;   // its PEM private key

  bool enabled() const { return !ca_file.empty(); }
};

// Checks that the combination of settings makes sense (no key without a
// certificate, no client certificate without TLS): INVALID_ARGUMENT naming
// the flags.
absl::Status ValidateClientTlsOptions(const ClientTlsOptions& options);

struct PemKeyCertPair {
  std::string private_key;
  std::string cert_chain;
};

// Reads `path` (given by `flag`, e.g. "--tls_ca_file") and checks that it
// holds at least one PEM certificate. FAILED_PRECONDITION otherwise.
absl::StatusOr<std::string> LoadCertificates(absl::string_view flag, const std::string& path);

// Reads a certificate chain and its private key and checks that they belong
// together. FAILED_PRECONDITION otherwise.
absl::StatusOr<PemKeyCertPair> LoadKeyCertPair(absl::string_view cert_flag,
                                               const std::string& cert_path,
                                               absl::string_view key_flag,
                                               const std::string& key_path);

}  // namespace crm::client
