#pragma once

// Keyset pagination tokens (AIP-158). A token holds the sort key of the last
// row a page returned; the next query continues with `WHERE (key) > (...)`,
// never OFFSET, so pages stay stable and cheap however deep a client goes.
//
// Tokens are opaque to clients and tamper-checked: an HMAC-SHA256 over the
// keys and a fingerprint of the query (its filters and order) means a token
// cannot be forged, edited, or replayed against a different query.
//
//   PageTokenCodec codec(secret);
//   std::string fp = absl::StrCat("leads|status=", status, "|order=id");
//   ASSIGN keys = codec.Decode(request.page_token(), fp);   // empty: first page
//   ...
//   response.set_next_page_token(codec.Encode(fp, {absl::StrCat(last_id)}));

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::pagination {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// 0 means the default; values above the maximum are coerced down to it
// (AIP-158); negative values are INVALID_ARGUMENT naming `page_size`.
absl::StatusOr<int> NormalizePageSize(int32_t page_size);

class PageTokenCodec {
 public:
  // `secret` keys the HMAC; at least 16 bytes. Every replica of a service must
  // share it, or a token from one replica is refused by another.
  explicit PageTokenCodec(std::string secret);

  // Reads the secret from a file (surrounding whitespace trimmed). An empty
  // path yields a random secret, so tokens only survive this process.
  static absl::StatusOr<PageTokenCodec> FromFile(const std::string& path);

  std::string Encode(absl::string_view query_fingerprint,
                     const std::vector<std::string>& keys) const;

  // An empty token decodes to no keys (the first page). A token that was not
  // made by this codec for this same query is INVALID_ARGUMENT on `page_token`.
  absl::StatusOr<std::vector<std::string>> Decode(absl::string_view token,
                                                  absl::string_view query_fingerprint) const;

  // The common case of one integer key (the last row's id): Encode of it,
  // and Decode expecting exactly that, nullopt for the first page.
  std::string EncodeId(absl::string_view query_fingerprint, int64_t id) const;
  absl::StatusOr<std::optional<int64_t>> DecodeId(absl::string_view token,
                                                  absl::string_view query_fingerprint) const;
  // A key of several integers (a time in microseconds, then an id): Decode
  // expects exactly `count` of them.
  std::string EncodeInts(absl::string_view query_fingerprint,
                         const std::vector<int64_t>& keys) const;
  absl::StatusOr<std::optional<std::vector<int64_t>>> DecodeInts(
      absl::string_view token, absl::string_view query_fingerprint, size_t count) const;

 private:
  std::string Mac(absl::string_view query_fingerprint, absl::string_view payload) const;

  std::string secret_;
};

}  // namespace crm::pagination
