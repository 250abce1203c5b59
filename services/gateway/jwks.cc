#include "services/gateway/jwks.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/escaping.h"
#include "common/client/channel.h"
#include "common/log/log.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::gateway {

std::string JwksJson(const auth::v1::ListPublicKeysResponse& keys) {
  nlohmann::json set = {{"keys", nlohmann::json::array()}};
  for (const auth::v1::PublicKey& key : keys.keys()) {
    set["keys"].push_back({{"kty", "OKP"},
                           {"crv", "Ed25519"},
                           {"x", absl::WebSafeBase64Escape(key.public_key())},  // unpadded
                           {"kid", key.kid()},
                           {"alg", "EdDSA"},
                           {"use", "sig"}});
  }
  return set.dump();
}

JwksCache::JwksCache(std::shared_ptr<grpc::Channel> auth_channel, absl::Duration refresh)
    : channel_(std::move(auth_channel)) {
  thread_ = std::thread([this, refresh] {
    absl::Duration wait = absl::Seconds(1);
    while (true) {
      Fetch();
      bool have;
      {
        absl::MutexLock lock(&mu_);
        have = json_.has_value();
      }
      // Until the first set arrives, ask again soon.
      if (stop_.WaitForNotificationWithTimeout(have ? refresh : wait)) {
        return;
      }
    }
  });
}

JwksCache::~JwksCache() {
  stop_.Notify();
  thread_.join();
}

void JwksCache::Fetch() {
  auto stub = auth::v1::AuthService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(client::DeadlineAfter(absl::Seconds(3)));
  auth::v1::ListPublicKeysResponse response;
  const grpc::Status status = stub->ListPublicKeys(&context, {}, &response);
  if (!status.ok()) {
    log::Warning("cannot fetch auth's public keys").Str("error", status.error_message());
    return;
  }
  std::string json = JwksJson(response);
  absl::MutexLock lock(&mu_);
  json_ = std::move(json);
}

std::optional<std::string> JwksCache::Get() {
  absl::MutexLock lock(&mu_);
  return json_;
}

}  // namespace crm::gateway
