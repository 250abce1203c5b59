#include "common/pagination/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files/read_file.h"
#include "common/status/grpc_status.h"

namespace crm::pagination {
namespace {

constexpr char kVersion = 1;
constexpr size_t kMacBytes = 16;
constexpr size_t kMaxTokenBytes = 4096;

absl::Status BadToken() {
  return InvalidArgumentError("page_token", "is not a token returned for this query");
}

void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool ReadVarint(absl::string_view& in, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<int> NormalizePageSize(int32_t page_size) {
  if (page_size < 0) {
    return InvalidArgumentError("page_size", "must not be negative");
  }
  if (page_size == 0) {
    return kDefaultPageSize;
  }
  return page_size > kMaxPageSize ? kMaxPageSize : static_cast<int>(page_size);
}

PageTokenCodec::PageTokenCodec(std::string secret) : secret_(std::move(secret)) {}

absl::StatusOr<PageTokenCodec> PageTokenCodec::FromFile(const std::string& path) {
  if (path.empty()) {
    std::string secret(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
      return absl::InternalError("could not generate a page token secret");
    }
    return PageTokenCodec(std::move(secret));
  }
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("page token secret: ", content.status().message()));
  }
  std::string secret(absl::StripAsciiWhitespace(*content));
  if (secret.size() < 16) {
    return absl::FailedPreconditionError(
        absl::StrCat("page token secret in ", path, " must be at least 16 bytes"));
  }
  return PageTokenCodec(std::move(secret));
}

std::string PageTokenCodec::Mac(absl::string_view query_fingerprint,
                                absl::string_view payload) const {
  std::string input;
  AppendVarint(input, query_fingerprint.size());
  input.append(query_fingerprint.data(), query_fingerprint.size());
  input.append(payload.data(), payload.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest, &digest_len);
  return std::string(reinterpret_cast<const char*>(digest), kMacBytes);
}

std::string PageTokenCodec::Encode(absl::string_view query_fingerprint,
                                   const std::vector<std::string>& keys) const {
  std::string payload(1, kVersion);
  AppendVarint(payload, keys.size());
  for (const std::string& key : keys) {
    AppendVarint(payload, key.size());
    payload.append(key);
  }
  std::string token = payload + Mac(query_fingerprint, payload);
  return absl::WebSafeBase64Escape(token);
}

absl::StatusOr<std::vector<std::string>> PageTokenCodec::Decode(
    absl::string_view token, absl::string_view query_fingerprint) const {
  if (token.empty()) {
    return std::vector<std::string>();
  }
  std::string raw;
  if (token.size() > kMaxTokenBytes || !absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() < 1 + kMacBytes) {
    return BadToken();
  }
  absl::string_view payload(raw.data(), raw.size() - kMacBytes);
  const std::string expected = Mac(query_fingerprint, payload);
  if (CRYPTO_memcmp(expected.data(), raw.data() + payload.size(), kMacBytes) != 0) {
    return BadToken();
  }
  if (payload.front() != kVersion) {
    return BadToken();
  }
  payload.remove_prefix(1);
  uint64_t count = 0;
  if (!ReadVarint(payload, count) || count > payload.size()) {
    return BadToken();
  }
  std::vector<std::string> keys;
  keys.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size = 0;
    if (!ReadVarint(payload, size) || size > payload.size()) {
      return BadToken();
    }
    keys.emplace_back(payload.substr(0, size));
    payload.remove_prefix(size);
  }
  if (!payload.empty()) {
    return BadToken();
  }
  return keys;
}

std::string PageTokenCodec::EncodeId(absl::string_view query_fingerprint, int64_t id) const {
  return EncodeInts(query_fingerprint, {id});
}

absl::StatusOr<std::optional<int64_t>> PageTokenCodec::DecodeId(
    absl::string_view token, absl::string_view query_fingerprint) const {
  absl::StatusOr<std::optional<std::vector<int64_t>>> keys =
      DecodeInts(token, query_fingerprint, 1);
  if (!keys.ok()) {
    return keys.status();
  }
  if (!keys->has_value()) {
    return std::nullopt;
  }
  return (**keys)[0];
}

std::string PageTokenCodec::EncodeInts(absl::string_view query_fingerprint,
                                       const std::vector<int64_t>& keys) const {
  std::vector<std::string> text;
  text.reserve(keys.size());
  for (int64_t key : keys) {
    text.push_back(absl::StrCat(key));
  }
  return Encode(query_fingerprint, text);
}

absl::StatusOr<std::optional<std::vector<int64_t>>> PageTokenCodec::DecodeInts(
    absl::string_view token, absl::string_view query_fingerprint, size_t count) const {
  absl::StatusOr<std::vector<std::string>> keys = Decode(token, query_fingerprint);
  if (!keys.ok()) {
    return keys.status();
  }
  if (keys->empty()) {
    return std::nullopt;
  }
  if (keys->size() != count) {
    return BadToken();
  }
  std::vector<int64_t> values(count);
  for (size_t i = 0; i < count; ++i) {
    if (!absl::SimpleAtoi((*keys)[i], &values[i])) {
      return BadToken();
    }
  }
  return values;
}

}  // namespace crm::pagination
