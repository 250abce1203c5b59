#include "common/auth/authenticator.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/auth/jwt.h"
#include "common/client/channel.h"
#include "common/deadline/grpc_deadline.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::auth {
namespace {

constexpr absl::string_view kBearer = "bearer ";
constexpr size_t kMaxAuthorizationBytes = 8192;
// Periodic fetches never run back to back, whatever the options say.
constexpr absl::Duration kMinFetchGap = absl::Milliseconds(10);

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("missing or invalid access token");
}

}  // namespace

absl::StatusOr<std::vector<Ed25519PublicKey>> RemoteKeySource::FetchKeys() {
  auto stub = crm::auth::v1::AuthService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(client::OutgoingDeadline(absl::Seconds(3)));
  crm::auth::v1::ListPublicKeysRequest request;
  crm::auth::v1::ListPublicKeysResponse response;
  grpc::Status status = stub->ListPublicKeys(&context, request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(status);
  }
  std::vector<Ed25519PublicKey> keys;
  for (const auto& key : response.keys()) {
    if (key.algorithm() != "EdDSA") {
      continue;
    }
    absl::StatusOr<Ed25519PublicKey> parsed = Ed25519PublicKey::FromRaw(key.public_key());
    if (parsed.ok() && parsed->Kid() == key.kid()) {
      keys.push_back(*std::move(parsed));
    }
  }
  return keys;
}

Authenticator::Authenticator(std::unique_ptr<KeySource> keys, AuthenticatorOptions options)
    : source_(std::move(keys)),
      options_(std::move(options)),
      cache_(options_.token_cache_size),
      fetcher_([this] { FetchLoop(); }) {}

Authenticator::~Authenticator() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  fetcher_.join();
}

bool Authenticator::FetchDue() const { return stopping_ || fetch_requested_; }

void Authenticator::FetchLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.AwaitWithDeadline(absl::Condition(this, &Authenticator::FetchDue), next_periodic_fetch_);
    if (stopping_) {
      return;
    }
    if (!fetch_requested_ && absl::Now() < next_periodic_fetch_) {
      continue;
    }
    fetch_requested_ = false;
    fetching_ = true;
    ++fetches_started_;
    last_fetch_start_ = absl::Now();
    mu_.Unlock();
    absl::StatusOr<std::vector<Ed25519PublicKey>> keys = source_->FetchKeys();
    mu_.Lock();
    fetching_ = false;
    fetches_done_ = fetches_started_;
    if (!keys.ok()) {
      // Keep trusting the keys we have: auth being down must not take every
      // other service down with it. Retry soon, and say so once.
      next_periodic_fetch_ = absl::Now() + std::max(options_.min_refetch_interval, kMinFetchGap);
      if (!fetch_failing_) {
        log::Warning("could not fetch token verification keys")
            .Str("error", keys.status().ToString());
      }
      fetch_failing_ = true;
      continue;
    }
    if (fetch_failing_) {
      log::Info("token verification keys fetched again").Int("keys", keys->size());
    }
    fetch_failing_ = false;
    next_periodic_fetch_ = absl::Now() + std::max(options_.key_ttl, kMinFetchGap);
    std::map<std::string, Ed25519PublicKey, std::less<>> fresh;
    for (Ed25519PublicKey& key : *keys) {
      std::string kid = key.Kid();
      fresh.emplace(std::move(kid), std::move(key));
    }
    const bool dropped = std::any_of(keys_.begin(), keys_.end(), [&fresh](const auto& entry) {
      return !fresh.contains(entry.first);
    });
    keys_ = std::move(fresh);
    if (dropped) {
      // Every token verified with the old set is verified again on its next use.
      key_epoch_.fetch_add(1);
    }
  }
}

std::optional<Ed25519PublicKey> Authenticator::WaitForKey(const std::string& kid,
                                                          absl::Time deadline, uint64_t* epoch) {
  absl::MutexLock lock(&mu_);
  const auto lookup = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<Ed25519PublicKey> {
    *epoch = key_epoch_.load();
    if (auto it = keys_.find(kid); it != keys_.end()) {
      return it->second;
    }
    return std::nullopt;
  };
  if (std::optional<Ed25519PublicKey> key = lookup(); key.has_value() || deadline <= absl::Now()) {
    return key;
  }
  int64_t target = 0;
  if (absl::Now() - last_fetch_start_ < options_.min_refetch_interval) {
    if (!fetching_) {
      return std::nullopt;  // fetched a moment ago: auth does not know this kid
    }
    target = fetches_started_;
  } else {
    fetch_requested_ = true;
    target = fetches_started_ + 1;
  }
  struct Wait {
    Authenticator* self;
    int64_t target;
  } wait{this, target};
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              return w->self->stopping_ || w->self->fetches_done_ >= w->target;
                            },
                            &wait),
                        deadline);
  return lookup();
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase& context) {
  return *Check(context, /*may_block=*/true);
}

std::optional<absl::StatusOr<Caller>> Authenticator::TryAuthenticate(
    const grpc::ServerContextBase& context) {
  return Check(context, /*may_block=*/false);
}

absl::StatusOr<Caller> Authenticator::AuthenticateToken(absl::string_view token,
                                                        absl::Time deadline) {
  return *CheckToken(token, deadline, /*may_block=*/true);
}

std::optional<absl::StatusOr<Caller>> Authenticator::Check(const grpc::ServerContextBase& context,
                                                           bool may_block) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end() || it->second.size() > kMaxAuthorizationBytes) {
    return Unauthenticated();
  }
  const absl::string_view header(it->second.data(), it->second.size());
  if (header.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(header.substr(0, kBearer.size()), kBearer)) {
    return Unauthenticated();
  }
  return CheckToken(absl::StripAsciiWhitespace(header.substr(kBearer.size())), DeadlineOf(context),
                    may_block);
}

std::optional<absl::StatusOr<Caller>> Authenticator::CheckToken(absl::string_view token,
                                                                absl::Time deadline,
                                                                bool may_block) {
  const absl::Time now = options_.clock();
  if (std::optional<Caller> hit = cache_.Find(token, now, key_epoch_.load())) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return *std::move(hit);
  }
  absl::StatusOr<UnverifiedAccessToken> parsed = UnverifiedAccessToken::Parse(token);
  if (!parsed.ok()) {
    log::Info("access token refused").Str("reason", std::string(parsed.status().message()));
    return Unauthenticated();
  }
  uint64_t epoch = 0;
  std::optional<Ed25519PublicKey> key;
  {
    absl::MutexLock lock(&mu_);
    epoch = key_epoch_.load();
    if (auto found = keys_.find(parsed->kid()); found != keys_.end()) {
      key = found->second;  // a shared handle: verification runs without the lock
    }
  }
  if (!key.has_value()) {
    if (!may_block) {
      return std::nullopt;
    }
    key =
        WaitForKey(parsed->kid(), std::min(deadline, absl::Now() + options_.max_key_wait), &epoch);
    if (!key.has_value()) {
      log::Info("access token refused").Str("reason", "unknown signing key");
      return Unauthenticated();
    }
  }
  verifications_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<AccessClaims> claims =
      VerifyAccessToken(*parsed, *key,
                        VerifyOptions{.issuer = options_.issuer,
                                      .audience = options_.audience,
                                      .now = now,
                                      .clock_skew = options_.clock_skew});
  if (!claims.ok()) {
    log::Info("access token refused").Str("reason", std::string(claims.status().message()));
    return Unauthenticated();
  }
  std::optional<Role> role = RoleFromName(claims->role);
  if (!role.has_value() || claims->subject <= 0) {
    return Unauthenticated();
  }
  Caller caller{.user_id = claims->subject,
                .role = *role,
                .service = *role == Role::kService ? claims->service : "",
                .valid_until = claims->expires_at + options_.clock_skew};
  cache_.Insert(token, caller, epoch, now);
  return caller;
}

AuthenticatorStats Authenticator::stats() const {
  absl::MutexLock lock(&mu_);
  return AuthenticatorStats{.cache_hits = cache_hits_.load(),
                            .verifications = verifications_.load(),
                            .key_fetches = fetches_done_,
                            .cached_tokens = cache_.size()};
}

}  // namespace crm::auth
