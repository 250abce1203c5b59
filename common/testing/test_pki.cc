#include "common/testing/test_pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/files/read_file.h"

namespace crm::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

struct Identity {
  PkeyPtr key;
  X509Ptr cert;
};

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (extension == nullptr) {
    return absl::InternalError(absl::StrCat("certificate extension ", value));
  }
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  return added == 1 ? absl::OkStatus()
                    : absl::InternalError(absl::StrCat("adding extension ", value));
}

// EC P-256 key and certificate for `common_name`, signed by `issuer` (or
// self-signed when null), valid from an hour ago for a day.
absl::StatusOr<Identity> MakeIdentity(const std::string& common_name, const Identity* issuer,
                                      bool is_ca) {
  static long serial = 1;
  Identity identity;
  identity.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  identity.cert.reset(X509_new());
  if (identity.key == nullptr || identity.cert == nullptr) {
    return absl::InternalError("OpenSSL could not make a key or certificate");
  }
  X509* cert = identity.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, identity.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
  std::vector<std::pair<int, const char*>> extensions = {
      {NID_subject_key_identifier, "hash"}, {NID_authority_key_identifier, "keyid:always"}};
  if (is_ca) {
    extensions.push_back({NID_basic_constraints, "critical,CA:TRUE"});
    extensions.push_back({NID_key_usage, "critical,keyCertSign,cRLSign"});
  } else {
    extensions.push_back({NID_basic_constraints, "critical,CA:FALSE"});
    extensions.push_back({NID_key_usage, "critical,digitalSignature"});
    extensions.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
    extensions.push_back({NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"});
  }
  for (const auto& [nid, value] : extensions) {
    if (absl::Status s = AddExtension(cert, &ctx, nid, value); !s.ok()) {
      return s;
    }
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : identity.key.get();
  if (X509_sign(cert, signer, EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("signing the certificate of ", common_name));
  }
  return identity;
}

std::string MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size);
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return MemoryBioContents(bio.get());
}

std::string ToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return MemoryBioContents(bio.get());
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create() {
  char dir_template[] = "/tmp/crm-test-pki-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("cannot make a temporary directory for the test PKI");
  }
  std::unique_ptr<TestPki> pki(new TestPki(dir_template));

  absl::StatusOr<Identity> ca = MakeIdentity("test CA", nullptr, true);
  absl::StatusOr<Identity> other_ca = MakeIdentity("another CA", nullptr, true);
  if (!ca.ok() || !other_ca.ok()) {
    return ca.ok() ? other_ca.status() : ca.status();
  }
  std::vector<std::pair<std::string, std::string>> files = {
      {"ca.crt", ToPem(ca->cert.get())}, {"other_ca.crt", ToPem(other_ca->cert.get())}};
  for (const auto& [leaf, issuer] :
       {std::pair{"server", &*ca}, std::pair{"client", &*ca}, std::pair{"rogue", &*other_ca}}) {
    absl::StatusOr<Identity> identity = MakeIdentity(leaf, issuer, false);
    if (!identity.ok()) {
      return identity.status();
    }
    files.emplace_back(absl::StrCat(leaf, ".crt"), ToPem(identity->cert.get()));
    files.emplace_back(absl::StrCat(leaf, ".key"), ToPem(identity->key.get()));
  }
  for (const auto& [file, contents] : files) {
    std::ofstream out(pki->Path(file), std::ios::binary);
    out << contents;
    if (!out.good()) {
      return absl::InternalError(absl::StrCat("cannot write ", pki->Path(file)));
    }
  }
  return pki;
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string TestPki::Path(absl::string_view file) const { return absl::StrCat(dir_, "/", file); }

std::string TestPki::Read(absl::string_view file) const {
  return ReadFileToString(Path(file)).value_or("");
}

}  // namespace crm::testing
