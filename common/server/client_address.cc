#include "common/server/client_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::server {
namespace {

// Parses an IP literal into `bytes`; returns the family or 0.
int ParseIp(absl::string_view text, uint8_t bytes[16]) {
  const std::string s(text);
  std::memset(bytes, 0, 16);
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    return AF_INET;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    return AF_INET6;
  }
  return 0;
}

// "[::1]" → "::1"; "10.0.0.1" stays.
absl::string_view StripBrackets(absl::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

}  // namespace

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies proxies;
  for (const std::string& raw : entries) {
    const absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty()) {
      continue;
    }
    absl::string_view address = entry;
    int prefix = -1;
    if (const size_t slash = entry.find('/'); slash != absl::string_view::npos) {
      address = entry.substr(0, slash);
      if (!absl::SimpleAtoi(entry.substr(slash + 1), &prefix) || prefix < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("trusted proxy \"", entry, "\": bad prefix length"));
      }
    }
    Network network{};
    network.family = ParseIp(StripBrackets(address), network.bytes);
    if (network.family == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted proxy \"", entry, "\" is not an IP address or network"));
    }
    const int max_bits = network.family == AF_INET ? 32 : 128;
    if (prefix > max_bits) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted proxy \"", entry, "\": prefix longer than ", max_bits, " bits"));
    }
    network.prefix_bits = prefix < 0 ? max_bits : prefix;
    proxies.networks_.push_back(network);
  }
  return proxies;
}

bool TrustedProxies::Contains(absl::string_view ip) const {
  uint8_t bytes[16];
  int family = ParseIp(StripBrackets(ip), bytes);
  if (family == 0) {
    return false;
  }
  // An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4
  // peer) is the IPv4 address.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::memcmp(bytes, kMapped, 12) == 0) {
    std::memmove(bytes, bytes + 12, 4);
    family = AF_INET;
  }
  for (const Network& n : networks_) {
    if (n.family != family) {
      continue;
    }
    const int full = n.prefix_bits / 8;
    const int rest = n.prefix_bits % 8;
    if (std::memcmp(bytes, n.bytes, full) != 0) {
      continue;
    }
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((bytes[full] & mask) != (n.bytes[full] & mask)) {
        continue;
      }
    }
    return true;
  }
  return false;
}

std::string PeerHost(absl::string_view peer) {
  absl::string_view p = peer;
  if (!absl::ConsumePrefix(&p, "ipv4:") && !absl::ConsumePrefix(&p, "ipv6:")) {
    return std::string(peer);
  }
  if (const size_t port = p.rfind(':'); port != absl::string_view::npos) {
    p = p.substr(0, port);
  }
  return std::string(StripBrackets(p));
}

std::string ClientAddress(absl::string_view peer, absl::Span<const absl::string_view> forwarded_for,
                          const TrustedProxies& trusted) {
  std::string client = PeerHost(peer);
  if (trusted.empty() || !trusted.Contains(client)) {
    return client;
  }
  std::vector<absl::string_view> hops;
  for (absl::string_view value : forwarded_for) {
    for (absl::string_view hop : absl::StrSplit(value, ',')) {
      hops.push_back(absl::StripAsciiWhitespace(hop));
    }
  }
  // From the nearest hop outwards: each trusted proxy vouches for the next.
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    uint8_t bytes[16];
    const absl::string_view hop = StripBrackets(*it);
    if (ParseIp(hop, bytes) == 0) {
      break;  // garbage: keep the last address a trusted proxy reported
    }
    client = std::string(hop);
    if (!trusted.Contains(client)) {
      break;
    }
  }
  return client;
}

std::string ClientAddress(const grpc::ServerContextBase& context, const TrustedProxies& trusted) {
  std::vector<absl::string_view> forwarded;
  if (!trusted.empty()) {
    const auto range = context.client_metadata().equal_range("x-forwarded-for");
    for (auto it = range.first; it != range.second; ++it) {
      forwarded.emplace_back(it->second.data(), it->second.size());
    }
  }
  return ClientAddress(context.peer(), forwarded, trusted);
}

}  // namespace crm::server
