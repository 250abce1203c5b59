#pragma once

// Auth's user directory as other services see it: one user by id, or every
// active user of a role, each answer reused for a few seconds so that routing
// a lead or checking a listing's agent costs no call to auth most of the time.
// Calls are made as the service's own SERVICE account.
//
//   auto credentials = auth::ServiceCredentials::FromFile(auth_channel, "leads", path);
//   users::UserDirectory directory(
//       {.auth_channel = auth_channel,
//        .authorize = [c = credentials->get()](grpc::ClientContext& context) {
//          return c->Attach(context);
//        }});
//   absl::StatusOr<users::DirectoryUser> agent = directory.Get(lead.assigned_to);
//   if (!agent.ok()) return agent.status();  // NOT_FOUND, UNAVAILABLE, ...
//   if (agent->role != auth::Role::kAgent || !agent->active) return ...;
//
// An answer may be up to `ttl` old: a user deactivated in auth is still seen
// active here until then (Invalidate() forgets everything at once).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace crm::users {

struct DirectoryUser {
  int64_t id = 0;
  std::string name;
  std::string email;
  auth::Role role = auth::Role::kClient;
  bool active = false;
};

struct UserDirectoryOptions {
  std::shared_ptr<grpc::Channel> auth_channel;
  // Attaches the service account's token (ServiceCredentials::Attach); returns its error if none.
  // Called concurrently. Empty: calls go without a token (auth answers UNAUTHENTICATED).
  absl::AnyInvocable<absl::Status(grpc::ClientContext&)> authorize;
  absl::Duration ttl = absl::Seconds(5);           // how long an answer is reused
  absl::Duration call_timeout = absl::Seconds(2);  // cap of each outgoing call (OutgoingDeadline)
  // Users per ListUsers page (auth caps it at 1000): the fewer pages, the fewer round trips.
  int32_t page_size = 1000;
};

// Thread-safe. A miss calls auth without holding the lock; concurrent misses
// of one key share that call and its answer (an error included). Errors are
// never cached.
class UserDirectory {
 public:
  explicit UserDirectory(UserDirectoryOptions options);
  UserDirectory(const UserDirectory&) = delete;
  UserDirectory& operator=(const UserDirectory&) = delete;

  // One user, cached for ttl. NOT_FOUND when auth says the user does not exist (and for ids
  // <= 0, which auth would read as "the caller"); auth's other errors mapped through
  // FromGrpcStatus, with UNAVAILABLE/DEADLINE_EXCEEDED becoming UNAVAILABLE "auth service
  // unavailable" (no internal detail).
  absl::StatusOr<DirectoryUser> Get(int64_t id);

  // Every active user with `role` (all pages of ListUsers), ordered by id, cached for ttl.
  // Errors as for Get.
  absl::StatusOr<std::vector<DirectoryUser>> ActiveUsers(auth::Role role);

  // Drops the cache (tests; and after a change the caller knows of). A fetch already under way
  // still answers its callers but is not cached.
  void Invalidate();

 private:
  template <typename Value>
  struct Cached {
    Value value;
    absl::Time expires_at;
  };
  // A fetch under way, which later misses of the same key wait for.
  template <typename Value>
  struct Flight {
    bool done = false;
    absl::StatusOr<Value> result;
  };
  template <typename Key, typename Value>
  struct Table {
    absl::flat_hash_map<Key, Cached<Value>> cached;
    absl::flat_hash_map<Key, std::shared_ptr<Flight<Value>>> flights;
  };

  // The cached answer for `key` in `table` (a member guarded by mu_), else fetch()'s (called
  // without mu_), shared with concurrent misses.
  template <typename Key, typename Value, typename Fetch>
  absl::StatusOr<Value> Lookup(Table<Key, Value>& table, const Key& key, Fetch fetch)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sets the deadline and the service account's token on an outgoing call.
  absl::Status Prepare(grpc::ClientContext& context);
  absl::StatusOr<DirectoryUser> FetchUser(int64_t id);
  absl::StatusOr<std::vector<DirectoryUser>> FetchActive(auth::Role role);

  const std::shared_ptr<grpc::Channel> channel_;
  // AnyInvocable's call operator is not const; the callable itself must be thread-safe.
  absl::AnyInvocable<absl::Status(grpc::ClientContext&)> authorize_;
  const absl::Duration ttl_;
  const absl::Duration call_timeout_;
  const int32_t page_size_;

  absl::Mutex mu_;
  Table<int64_t, DirectoryUser> users_ ABSL_GUARDED_BY(mu_);
  Table<auth::Role, std::vector<DirectoryUser>> active_ ABSL_GUARDED_BY(mu_);
  // Bumped by Invalidate: a fetch that began before it is not cached.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crm::users
