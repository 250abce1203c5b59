#include "services/gateway/cors.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::gateway {
namespace {

// What a gRPC-web client sends (a compressing one adds grpc-encoding and
// grpc-accept-encoding); other request headers a preflight asks for are
// allowed when they are custom metadata (x-…), never hop-by-hop ones.
constexpr absl::string_view kBaseHeaders[] = {
    "content-type", "authorization", "x-grpc-web",          "x-user-agent",
    "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"};

bool AllowedRequestHeader(absl::string_view name) {
  for (absl::string_view base : kBaseHeaders) {
    if (name == base) {
      return true;
    }
  }
  return absl::StartsWith(name, "x-") && name != "x-forwarded-for";
}

}  // namespace

CorsPolicy::CorsPolicy(absl::string_view allowed_origins) {
  for (absl::string_view origin : absl::StrSplit(allowed_origins, ',', absl::SkipWhitespace())) {
    origins_.insert(std::string(absl::StripAsciiWhitespace(origin)));
  }
}

bool CorsPolicy::Allowed(absl::string_view origin) const {
  return !origin.empty() && origins_.find(origin) != origins_.end();
}

Headers CorsPolicy::ResponseHeaders(absl::string_view origin) const {
  if (!Allowed(origin)) {
    return {};
  }
  return {{"Access-Control-Allow-Origin", std::string(origin)},
          {"Access-Control-Allow-Credentials", "true"},
          {"Access-Control-Expose-Headers", "grpc-status, grpc-message, grpc-status-details-bin"},
          {"Vary", "Origin"}};
}

Headers CorsPolicy::PreflightHeaders(absl::string_view origin,
                                     absl::string_view requested_headers) const {
  if (!Allowed(origin)) {
    return {};
  }
  std::vector<std::string> allowed(std::begin(kBaseHeaders), std::end(kBaseHeaders));
  for (absl::string_view h : absl::StrSplit(requested_headers, ',', absl::SkipWhitespace())) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(h));
    if (AllowedRequestHeader(name) &&
        std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      allowed.push_back(std::move(name));
    }
  }
  Headers headers = ResponseHeaders(origin);
  headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
  headers.emplace_back("Access-Control-Allow-Headers", absl::StrJoin(allowed, ", "));
  headers.emplace_back("Access-Control-Max-Age", "600");
  return headers;
}

}  // namespace crm::gateway
