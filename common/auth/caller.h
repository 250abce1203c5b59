#pragma once

// Who is calling, as established from a verified access token, and the
// helpers that express DESIGN.md §4's permission table in one line per RPC:
//
//   if (absl::Status s = RequireRole(caller, {Role::kAdmin}); !s.ok()) return s;

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::auth {

enum class Role { kAdmin, kAgent, kClient, kService };

// "ADMIN", "AGENT", "CLIENT", "SERVICE": the token claim and the users.role value.
absl::string_view RoleName(Role role);
std::optional<Role> RoleFromName(absl::string_view name);

struct Caller {
  int64_t user_id = 0;
  Role role = Role::kClient;
  std::string service;  // SERVICE callers: which service ("leads"); else empty
  // When the token stops being accepted (its exp plus the allowed clock skew).
  absl::Time valid_until = absl::InfiniteFuture();

  bool Is(Role r) const { return role == r; }
  bool IsSelf(int64_t id) const { return user_id == id; }
};

// PERMISSION_DENIED unless the caller has one of `allowed`.
absl::Status RequireRole(const Caller& caller, std::initializer_list<Role> allowed);

// UNAUTHENTICATED once the caller's token has expired. A stream's token is
// verified when it opens, so long-lived streams check this as they go: a
// revoked or demoted account loses its streams when its last token expires.
absl::Status RequireUnexpired(const Caller& caller, absl::Time now = absl::Now());

}  // namespace crm::auth
