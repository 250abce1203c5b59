#pragma once

// The hash chain: hash(n) = SHA-256(hash(n-1) ‖ canonical encoding of event
// n), with 32 zero bytes before seq 1. The canonical encoding is what an
// independent verifier must reproduce, so it is fixed and documented in this
// folder's README:
//
//   "crm.audit.v1.activity" ‖ seq ‖ event_id ‖ user_id ‖ action ‖
//   timestamp_micros ‖ service ‖ entity_type ‖ entity_id ‖ details_json
//
// integers as 8-byte big-endian two's complement, strings as a 4-byte
// big-endian byte length followed by their UTF-8 bytes.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "services/audit/activity.h"

namespace crm::audit {

inline constexpr size_t kHashSize = 32;

// 32 zero bytes: the prev_hash of seq 1.
std::string GenesisHash();

std::string CanonicalEncoding(int64_t seq, const Event& event);

// SHA-256(prev_hash ‖ CanonicalEncoding(seq, event)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, int64_t seq, const Event& event);

}  // namespace crm::audit
