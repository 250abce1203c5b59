#include "services/audit/activity_hash.h"

#include <openssl/sha.h>

namespace crm::audit {
namespace {

void AppendInt(std::string& out, int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void AppendString(std::string& out, absl::string_view value) {
  const auto n = static_cast<uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out.append(value.data(), value.size());
}

}  // namespace

std::string GenesisHash() { return std::string(kHashSize, '\0'); }

std::string CanonicalEncoding(int64_t seq, const Event& event) {
  std::string out;
  out.reserve(128 + event.details_json.size());
  AppendString(out, "crm.audit.v1.activity");
  AppendInt(out, seq);
  AppendString(out, event.event_id);
  AppendInt(out, event.user_id);
  AppendString(out, event.action);
  AppendInt(out, event.occurred_at_micros);
  AppendString(out, event.service);
  AppendString(out, event.entity_type);
  AppendInt(out, event.entity_id);
  AppendString(out, event.details_json);
  return out;
}

std::string ChainHash(absl::string_view prev_hash, int64_t seq, const Event& event) {
  std::string input(prev_hash);
  input += CanonicalEncoding(seq, event);
  std::string digest(kHashSize, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace crm::audit
