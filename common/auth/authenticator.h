#pragma once

// Verifies the `authorization: Bearer <access token>` of incoming calls,
// locally: tokens are Ed25519 JWTs signed by the auth service, checked
// against its published public keys.
//
//   Authenticator authenticator(std::make_unique<RemoteKeySource>(auth_channel), {});
//   absl::StatusOr<Caller> caller = authenticator.Authenticate(*context);
//
// The cost per call is a hash lookup: a token verified once is remembered
// until it expires or its key leaves auth's published set (see
// token_cache.h), and is parsed once when it is not.
//
// Keys are fetched by a background thread: at start, every `key_ttl` (so a
// key auth dropped after a rotation stops being trusted), and at once when a
// token names a kid never seen (a rotation) — at most once per
// `min_refetch_interval`, so random kids cannot hammer auth. Only a call
// bearing such a kid waits for that fetch, within its deadline; no call waits
// for a periodic refresh.
//
// A missing, malformed, forged or expired token is UNAUTHENTICATED with a
// generic message; the reason goes to the server log only.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/auth/ed25519_key.h"
#include "common/auth/token_cache.h"
#include "grpcpp/channel.h"
#include "grpcpp/server_context.h"

namespace crm::auth {

// Where verification keys come from.
class KeySource {
 public:
  virtual ~KeySource() = default;
  virtual absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() = 0;
};

// Fetches keys from crm.auth.v1.AuthService/ListPublicKeys (public; 3 s deadline).
class RemoteKeySource final : public KeySource {
 public:
  explicit RemoteKeySource(std::shared_ptr<grpc::Channel> auth_channel)
      : channel_(std::move(auth_channel)) {}
  absl::StatusOr<std::vector<Ed25519PublicKey>> FetchKeys() override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

struct AuthenticatorOptions {
  std::string issuer = "crm-auth";
  std::string audience = "crm";
  absl::Duration clock_skew = absl::Seconds(30);
  absl::Duration min_refetch_interval = absl::Seconds(5);
  // Keys are refetched this often even when every kid is known, so a key
  // dropped by auth (after a rotation) stops being trusted.
  absl::Duration key_ttl = absl::Minutes(5);
  // Verified tokens remembered at once (0: every call verifies its token).
  int token_cache_size = 10000;
  // The longest a call waits for keys when its token names an unseen kid
  // (less when the call's deadline is sooner).
  absl::Duration max_key_wait = absl::Seconds(3);
  // The time tokens are checked against; tests move it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

struct AuthenticatorStats {
  int64_t cache_hits = 0;
  int64_t verifications = 0;  // signature checks (cache misses that reached a key)
  int64_t key_fetches = 0;    // completed FetchKeys calls, failed ones included
  int cached_tokens = 0;
};

class Authenticator {
 public:
  // Starts the key-fetching thread, which fetches at once.
  Authenticator(std::unique_ptr<KeySource> keys, AuthenticatorOptions options);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;
  ~Authenticator();

  // May block (within the call's deadline) when the token names a kid never
  // seen: run it where blocking is allowed.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& context);
  absl::StatusOr<Caller> AuthenticateToken(absl::string_view token,
                                           absl::Time deadline = absl::InfiniteFuture());

  // Never blocks, so gRPC's threads may call it: the answer, or nullopt when
  // only a key fetch can tell (then call Authenticate off gRPC's threads).
  std::optional<absl::StatusOr<Caller>> TryAuthenticate(const grpc::ServerContextBase& context);

  AuthenticatorStats stats() const;

 private:
  // `may_block` false: returns nullopt instead of waiting for keys.
  std::optional<absl::StatusOr<Caller>> Check(const grpc::ServerContextBase& context,
                                              bool may_block);
  std::optional<absl::StatusOr<Caller>> CheckToken(absl::string_view token, absl::Time deadline,
                                                   bool may_block);
  // The key for `kid`, after waiting (until `deadline`) for a fetch if it is
  // unknown and one is allowed. Sets *epoch to the key epoch it was read at.
  std::optional<Ed25519PublicKey> WaitForKey(const std::string& kid, absl::Time deadline,
                                             uint64_t* epoch);
  void FetchLoop();
  bool FetchDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<KeySource> source_;
  const AuthenticatorOptions options_;
  VerifiedTokenCache cache_;

  mutable absl::Mutex mu_;
  std::map<std::string, Ed25519PublicKey, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
  // Bumped (under mu_) whenever a fetch drops a key; read lock-free by hits.
  std::atomic<uint64_t> key_epoch_{0};
  bool fetch_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool fetch_failing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t fetches_started_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fetches_done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_fetch_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_periodic_fetch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::atomic<int64_t> cache_hits_{0};
  std::atomic<int64_t> verifications_{0};
  std::thread fetcher_;
};

}  // namespace crm::auth
