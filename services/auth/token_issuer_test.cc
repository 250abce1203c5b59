// The deprecated RAND_METHOD hook is the one way to make OpenSSL's generator
// fail on purpose.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "services/auth/token_issuer.h"

#include <openssl/rand.h>

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace crm::auth {
namespace {

int FailingBytes(unsigned char*, int) { return 0; }
int FailingStatus() { return 0; }

// While alive, every RAND_bytes call fails.
class BrokenRandom {
 public:
  BrokenRandom() {
    method_.bytes = FailingBytes;
    method_.pseudorand = FailingBytes;
    method_.status = FailingStatus;
    RAND_set_rand_method(&method_);
  }
  ~BrokenRandom() { RAND_set_rand_method(nullptr); }

 private:
  RAND_METHOD method_{};
};

TokenIssuer Issuer() { return TokenIssuer({*Ed25519PrivateKey::Generate()}, TokenOptions{}); }

TEST(TokenIssuerTest, TokensAreRandom) {
  const TokenIssuer issuer = Issuer();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    seen.insert(*TokenIssuer::NewRefreshToken());
    seen.insert(*NewUuid());
    seen.insert(issuer.IssueAccessToken(7, Role::kAgent)->token);
  }
  EXPECT_EQ(seen.size(), 300u);
}

TEST(TokenIssuerTest, AFailingRandomGeneratorIsAnErrorNeverAPredictableToken) {
  const TokenIssuer issuer = Issuer();
  BrokenRandom broken;
  EXPECT_EQ(TokenIssuer::NewRefreshToken().status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(NewUuid().status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(issuer.IssueAccessToken(7, Role::kAgent).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace crm::auth
