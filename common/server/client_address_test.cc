#include "common/server/client_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

TrustedProxies Trust(const std::vector<std::string>& entries) {
  absl::StatusOr<TrustedProxies> proxies = TrustedProxies::Parse(entries);
  EXPECT_TRUE(proxies.ok()) << proxies.status();
  return proxies.ok() ? *proxies : TrustedProxies();
}

TEST(TrustedProxiesTest, MatchesAddressesAndNetworks) {
  const TrustedProxies trusted = Trust({"127.0.0.1", "10.0.0.0/8", "fd00::/8", " 192.168.1.0/25 "});
  EXPECT_TRUE(trusted.Contains("127.0.0.1"));
  EXPECT_FALSE(trusted.Contains("127.0.0.2"));
  EXPECT_TRUE(trusted.Contains("10.200.3.4"));
  EXPECT_FALSE(trusted.Contains("11.0.0.1"));
  EXPECT_TRUE(trusted.Contains("192.168.1.127"));
  EXPECT_FALSE(trusted.Contains("192.168.1.128"));
  EXPECT_TRUE(trusted.Contains("fd12::1"));
  EXPECT_TRUE(trusted.Contains("[fd12::1]"));
  EXPECT_FALSE(trusted.Contains("fe80::1"));
  EXPECT_TRUE(trusted.Contains("::ffff:10.1.1.1"));  // IPv4-mapped
  EXPECT_FALSE(trusted.Contains("not an address"));
  EXPECT_FALSE(TrustedProxies().Contains("127.0.0.1"));
}

TEST(TrustedProxiesTest, RefusesEntriesThatAreNotNetworks) {
  for (const char* bad : {"gateway.local", "10.0.0.0/33", "10.0.0.0/x", "::1/129", "1.2.3"}) {
    absl::StatusOr<TrustedProxies> parsed = TrustedProxies::Parse({bad});
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr(bad));
  }
}

TEST(ClientAddressTest, PeerHostDropsSchemeAndPort) {
  EXPECT_EQ(PeerHost("ipv4:10.1.2.3:5678"), "10.1.2.3");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5678"), "::1");
  EXPECT_EQ(PeerHost("unix:/tmp/sock"), "unix:/tmp/sock");
}

TEST(ClientAddressTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  const TrustedProxies trusted = Trust({"127.0.0.1"});
  std::vector<absl::string_view> xff = {"203.0.113.9"};
  // From the gateway: the address it saw.
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", xff, trusted), "203.0.113.9");
  // From anyone else: the header is the client's own claim, ignored.
  EXPECT_EQ(ClientAddress("ipv4:198.51.100.2:4000", xff, trusted), "198.51.100.2");
  // With no trusted proxy configured, nobody is believed.
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", xff, TrustedProxies()), "127.0.0.1");
  // A proxy without the header: the proxy itself.
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", {}, trusted), "127.0.0.1");
}

TEST(ClientAddressTest, TheRightmostUntrustedHopWinsSoClientsCannotForgeIt) {
  const TrustedProxies trusted = Trust({"127.0.0.1", "10.0.0.0/8"});
  // The client wrote "1.1.1.1" itself; the trusted proxies appended the rest.
  std::vector<absl::string_view> xff = {"1.1.1.1, 203.0.113.9", "10.0.0.5"};
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", xff, trusted), "203.0.113.9");
  // Garbage where an address should be: the last hop a proxy vouched for.
  std::vector<absl::string_view> junk = {"203.0.113.9, <script>, 10.0.0.5"};
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", junk, trusted), "10.0.0.5");
  std::vector<absl::string_view> v6 = {"[2001:db8::7]"};
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:4000", v6, trusted), "2001:db8::7");
}

}  // namespace
}  // namespace crm::server
