#include "common/testing/test_tokens.h"

#include <atomic>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth/jwt.h"

namespace crm::testing {
namespace {

class FixedKeySource final : public auth::KeySource {
 public:
  explicit FixedKeySource(auth::Ed25519PublicKey key) : key_(std::move(key)) {}
  absl::StatusOr<std::vector<auth::Ed25519PublicKey>> FetchKeys() override {
    return std::vector<auth::Ed25519PublicKey>{key_};
  }

 private:
  auth::Ed25519PublicKey key_;
};

auth::Ed25519PrivateKey GenerateOrDie() {
  absl::StatusOr<auth::Ed25519PrivateKey> key = auth::Ed25519PrivateKey::Generate();
  if (!key.ok()) {
    std::abort();  // OpenSSL cannot make a key: no test can run
  }
  return *std::move(key);
}

}  // namespace

TestTokens::TestTokens() : key_(GenerateOrDie()) {}

std::unique_ptr<auth::Authenticator> TestTokens::NewAuthenticator(
    auth::AuthenticatorOptions options) const {
  return std::make_unique<auth::Authenticator>(std::make_unique<FixedKeySource>(key_.public_key()),
                                               std::move(options));
}

std::string TestTokens::For(auth::Role role, int64_t user_id, const std::string& service,
                            absl::Duration lifetime) const {
  // Tests sign tokens from several threads at once.
  static std::atomic<int> counter{0};
  const absl::Time now = absl::Now();
  return auth::SignAccessToken({.issuer = "crm-auth",
                                .audience = "crm",
                                .subject = user_id,
                                .role = std::string(auth::RoleName(role)),
                                .issued_at = now,
                                .expires_at = now + lifetime,
                                .jwt_id = absl::StrCat("test-", ++counter),
                                .service = service},
                               key_);
}

}  // namespace crm::testing
