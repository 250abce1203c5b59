#pragma once

// Ed25519 keys through OpenSSL, for signing and verifying access tokens.
//
//   auto key = Ed25519PrivateKey::Generate();
//   std::string sig = key->Sign("message");
//   bool ok = key->public_key().Verify("message", sig);

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace crm::auth {

class Ed25519PublicKey {
 public:
  // The 32 raw key bytes (as published by ListPublicKeys).
  static absl::StatusOr<Ed25519PublicKey> FromRaw(absl::string_view raw);
  // A SubjectPublicKeyInfo PEM.
  static absl::StatusOr<Ed25519PublicKey> FromPem(absl::string_view pem);

  std::string raw() const;
  std::string ToPem() const;
  bool Verify(absl::string_view message, absl::string_view signature) const;
  // A stable key id: the first 16 characters of base64url(SHA-256(raw)).
  std::string Kid() const;

 private:
  explicit Ed25519PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  friend class Ed25519PrivateKey;
  std::shared_ptr<EVP_PKEY> key_;
};

class Ed25519PrivateKey {
 public:
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // A PKCS#8 PEM, as written by `openssl genpkey -algorithm ed25519`.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(absl::string_view pem);

  std::string ToPem() const;
  // The 64-byte signature of `message`.
  std::string Sign(absl::string_view message) const;
  Ed25519PublicKey public_key() const;

 private:
  explicit Ed25519PrivateKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace crm::auth
