#pragma once

// The size limits of an activity event, shared by the services that write
// them (outbox::Record refuses what exceeds them), the relay (which
// quarantines an outbox row past them instead of sending it) and audit
// (which rejects such an event): one definition, so they never disagree.

#include <cstddef>

namespace crm::outbox {

// details_json as stored (PostgreSQL's jsonb text form), in bytes.
inline constexpr size_t kMaxDetailsBytes = 65536;
// action, entity_type and service, in characters.
inline constexpr size_t kMaxNameLength = 64;
// One event as the relay sends it (details plus the other fields).
inline constexpr size_t kMaxEventBytes = kMaxDetailsBytes + 1024;

}  // namespace crm::outbox
