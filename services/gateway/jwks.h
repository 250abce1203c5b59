#pragma once

// GET /.well-known/jwks.json: auth's published token keys (ListPublicKeys) as
// a JSON Web Key Set (RFC 7517; Ed25519 keys as RFC 8037's OKP), so an edge
// proxy (Envoy's jwt_authn) or another system's JWT library can verify our
// access tokens. A thread fetches the keys at start and every `refresh`;
// requests are answered from the last good copy.

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "crm/auth/v1/auth_service.pb.h"
#include "grpcpp/channel.h"

namespace crm::gateway {

// The key set's JSON text.
std::string JwksJson(const auth::v1::ListPublicKeysResponse& keys);

class JwksCache {
 public:
  JwksCache(std::shared_ptr<grpc::Channel> auth_channel, absl::Duration refresh);
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;
  ~JwksCache();

  // The last key set fetched; nullopt before the first success.
  std::optional<std::string> Get() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Fetch();

  std::shared_ptr<grpc::Channel> channel_;
  absl::Mutex mu_;
  std::optional<std::string> json_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace crm::gateway
