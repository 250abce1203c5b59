#include "common/client/tls_options.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/files/read_file.h"

namespace crm::client {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Refuses to prompt: without it OpenSSL asks the terminal for the passphrase
// of an encrypted key.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

absl::StatusOr<std::string> ReadFile(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", content.status().message()));
  }
  if (content->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", path, " is empty"));
  }
  return content;
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

X509Ptr FirstCertificate(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return cert;
}

}  // namespace

absl::Status ValidateClientTlsOptions(const ClientTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_cert_file and --tls_client_key_file go together: set both or neither");
  }
  if (!options.cert_file.empty() && options.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_cert_file needs --tls_ca_file (a client certificate is only sent over "
        "TLS)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LoadCertificates(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) {
    return pem.status();
  }
  if (FirstCertificate(*pem) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", path, " holds no PEM certificate"));
  }
  return pem;
}

absl::StatusOr<PemKeyCertPair> LoadKeyCertPair(absl::string_view cert_flag,
                                               const std::string& cert_path,
                                               absl::string_view key_flag,
                                               const std::string& key_path) {
  absl::StatusOr<std::string> cert_pem = LoadCertificates(cert_flag, cert_path);
  if (!cert_pem.ok()) {
    return cert_pem.status();
  }
  absl::StatusOr<std::string> key_pem = ReadFile(key_flag, key_path);
  if (!key_pem.ok()) {
    return key_pem.status();
  }
  BioPtr bio = MemoryBio(*key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(key_flag, ": ", key_path, " holds no unencrypted PEM private key"));
  }
  // A mismatched pair would otherwise surface only as failed handshakes.
  const X509Ptr cert = FirstCertificate(*cert_pem);
  const bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::FailedPreconditionError(absl::StrCat(key_flag, ": the key in ", key_path,
                                                      " does not match the certificate in ",
                                                      cert_flag, " ", cert_path));
  }
  return PemKeyCertPair{.private_key = *std::move(key_pem), .cert_chain = *std::move(cert_pem)};
}

}  // namespace crm::client
