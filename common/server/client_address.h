#pragma once

// The address of the client a request comes from, for throttling and logs.
//
// Behind the gateway (or a load balancer) every request's TCP peer is the
// proxy, so a per-source limit would put every browser under one key. A
// proxy appends the address it saw to `x-forwarded-for`; that header is
// believed only when the TCP peer is one of the configured trusted proxies
// (--trusted_proxies), since any client can send it. The address taken is
// the rightmost one a trusted proxy did not add: the leftmost entries are
// whatever the client wrote.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "grpcpp/server_context.h"

namespace crm::server {

// A set of addresses and networks: "10.0.0.7", "10.0.0.0/8", "::1", "fd00::/8".
class TrustedProxies {
 public:
  TrustedProxies() = default;  // trusts nobody

  // INVALID_ARGUMENT naming the entry that is not an address or network.
  static absl::StatusOr<TrustedProxies> Parse(const std::vector<std::string>& entries);

  // Whether `ip` (a literal without port or brackets) is in the set.
  bool Contains(absl::string_view ip) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    int family;         // AF_INET or AF_INET6
    uint8_t bytes[16];  // the network's address
    int prefix_bits;
  };
  std::vector<Network> networks_;
};

// The host part of a gRPC peer string: "ipv4:10.1.2.3:5678" → "10.1.2.3",
// "ipv6:[::1]:5678" → "::1"; anything else is returned as it is.
std::string PeerHost(absl::string_view peer);

// The client's address: the TCP peer's host, or, when that is a trusted
// proxy, the rightmost address of `forwarded_for` (the x-forwarded-for
// values in order, each a comma-separated list) that is not a trusted proxy.
// Entries that are not IP literals end the walk (the peer's view is kept).
std::string ClientAddress(absl::string_view peer, absl::Span<const absl::string_view> forwarded_for,
                          const TrustedProxies& trusted);

// The same from a server context's peer and metadata.
std::string ClientAddress(const grpc::ServerContextBase& context, const TrustedProxies& trusted);

}  // namespace crm::server
