#include "common/auth/authenticator.h"

#include <chrono>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/auth/jwt.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "crm/auth/v1/auth_service.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace crm::auth {
namespace {

constexpr absl::string_view kBearer = "bearer ";
constexpr size_t kMaxAuthorizationBytes = 8192;

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("missing or invalid access token");
}

}  // namespace

absl::StatusOr<std::vector<Ed25519PublicKey>> RemoteKeySource::FetchKeys() {
  auto stub = crm::auth::v1::AuthService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
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
    : source_(std::move(keys)), options_(std::move(options)) {}

void Authenticator::MaybeRefresh() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() - last_fetch_ < options_.min_refetch_interval) {
      return;
    }
    last_fetch_ = absl::Now();
  }
  absl::StatusOr<std::vector<Ed25519PublicKey>> keys = source_->FetchKeys();
  if (!keys.ok()) {
    log::Warning("could not fetch token verification keys").Str("error", keys.status().ToString());
    return;
  }
  absl::MutexLock lock(&mu_);
  keys_.clear();
  for (Ed25519PublicKey& key : *keys) {
    std::string kid = key.Kid();
    keys_.emplace(std::move(kid), std::move(key));
  }
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase& context) {
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
  return AuthenticateToken(absl::StripAsciiWhitespace(header.substr(kBearer.size())));
}

absl::StatusOr<Caller> Authenticator::AuthenticateToken(absl::string_view token) {
  absl::StatusOr<std::string> kid = PeekKid(token);
  if (!kid.ok()) {
    return Unauthenticated();
  }
  bool fresh = false;
  {
    absl::MutexLock lock(&mu_);
    fresh = keys_.find(*kid) != keys_.end() && absl::Now() - last_fetch_ < options_.key_ttl;
  }
  if (!fresh) {
    MaybeRefresh();
  }
  VerifyOptions verify{.issuer = options_.issuer,
                       .audience = options_.audience,
                       .now = absl::Now(),
                       .clock_skew = options_.clock_skew};
  // Copy the key out (a shared handle) so verification runs without the lock.
  std::optional<Ed25519PublicKey> key;
  {
    absl::MutexLock lock(&mu_);
    if (auto found = keys_.find(*kid); found != keys_.end()) {
      key = found->second;
    }
  }
  absl::StatusOr<AccessClaims> claims = VerifyAccessToken(
      token,
      [&key, &kid](absl::string_view id) -> const Ed25519PublicKey* {
        return key.has_value() && id == *kid ? &*key : nullptr;
      },
      verify);
  if (!claims.ok()) {
    log::Info("access token refused").Str("reason", std::string(claims.status().message()));
    return Unauthenticated();
  }
  std::optional<Role> role = RoleFromName(claims->role);
  if (!role.has_value() || claims->subject <= 0) {
    return Unauthenticated();
  }
  return Caller{.user_id = claims->subject,
                .role = *role,
                .service = *role == Role::kService ? claims->service : "",
                .valid_until = claims->expires_at + options_.clock_skew};
}

}  // namespace crm::auth
