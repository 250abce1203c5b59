#pragma once

// The browser's cross-origin rules for the gateway: an allow-list of
// origins, exact matches only. An allowed origin is named back (never "*",
// since credentials are allowed); any other gets no CORS headers, so the
// browser refuses the answer.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace crm::gateway {

using Headers = std::vector<std::pair<std::string, std::string>>;

class CorsPolicy {
 public:
  // "https://crm.example.com,http://localhost:5173"
  explicit CorsPolicy(absl::string_view allowed_origins);

  bool Allowed(absl::string_view origin) const;
  // For a call's response from `origin` (none when not allowed or empty).
  Headers ResponseHeaders(absl::string_view origin) const;
  // For an OPTIONS preflight: the response headers, or nullopt-like empty
  // when refused. `requested_headers` is Access-Control-Request-Headers.
  Headers PreflightHeaders(absl::string_view origin, absl::string_view requested_headers) const;

 private:
  std::set<std::string, std::less<>> origins_;
};

}  // namespace crm::gateway
