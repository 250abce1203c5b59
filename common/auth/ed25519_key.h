#pragma once

// Ed25519 keys (through OpenSSL) for signing and verifying access tokens. The
// auth service holds private keys and publishes the public halves; every other
// service only ever sees Ed25519PublicKey.
//
//   absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(pem_text);
//   std::string signature = key->Sign("message");              // 64 bytes
//   Ed25519PublicKey public_key = key->public_key();
//   bool ok = public_key.Verify("message", signature);         // true
//   std::string kid = public_key.Kid();                        // 16 chars, stable
//
// Both classes are cheap to copy (copies share one immutable OpenSSL key) and
// safe to use from several threads at once. A moved-from key may only be
// assigned to or destroyed.

#include <openssl/types.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::auth {

class Ed25519PublicKey {
 public:
  // The 32 raw key bytes (RFC 8032), as published by ListPublicKeys.
  static absl::StatusOr<Ed25519PublicKey> FromRaw(absl::string_view raw);
  // A SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"). Any other key type is
  // INVALID_ARGUMENT.
  static absl::StatusOr<Ed25519PublicKey> FromPem(absl::string_view pem);

  // The 32 raw key bytes.
  std::string raw() const { return raw_; }
  std::string ToPem() const;
  // False for a wrong signature, including one that is not 64 bytes long.
  bool Verify(absl::string_view message, absl::string_view signature) const;
  // A stable key id: the first 16 characters of base64url(SHA-256(raw())),
  // unpadded. Tokens name their signing key by it.
  std::string Kid() const;

 private:
  friend class Ed25519PrivateKey;
  Ed25519PublicKey(std::shared_ptr<EVP_PKEY> key, std::string raw)
      : key_(std::move(key)), raw_(std::move(raw)) {}

  // Takes ownership of `key`: checks it is Ed25519 and reads its raw bytes.
  static absl::StatusOr<Ed25519PublicKey> Adopt(EVP_PKEY* key);

  std::shared_ptr<EVP_PKEY> key_;  // never null; shared because it is immutable
  std::string raw_;                // read once, so raw() and Kid() cannot fail
};

class Ed25519PrivateKey {
 public:
  // A fresh random key.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // An unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), as written by
  // `openssl genpkey -algorithm ed25519`. Encrypted PEMs (never prompted for
  // a passphrase) and other key types are INVALID_ARGUMENT.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(absl::string_view pem);

  // Unencrypted PKCS#8 PEM: secret material, handle like the key file itself.
  std::string ToPem() const;
  // The 64-byte signature of `message` (pure Ed25519, no pre-hash). Empty
  // only if OpenSSL fails (out of memory), which no verifier accepts.
  std::string Sign(absl::string_view message) const;
  Ed25519PublicKey public_key() const { return public_key_; }

 private:
  Ed25519PrivateKey(std::shared_ptr<EVP_PKEY> key, Ed25519PublicKey public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}

  // Takes ownership of `key`: checks it is Ed25519 and derives the public key.
  static absl::StatusOr<Ed25519PrivateKey> Adopt(EVP_PKEY* key);

  std::shared_ptr<EVP_PKEY> key_;  // never null; shared because it is immutable
  Ed25519PublicKey public_key_;    // derived once, so public_key() cannot fail
};

}  // namespace crm::auth
