#pragma once

// All SQL of the auth service's users and refresh tokens, through named
// prepared statements on the service's own pool. Every change also writes its activity to the
// outbox in the same transaction. Nothing here knows gRPC; errors are absl::Status.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/db/pipelined_reader.h"
#include "common/db/pool.h"
#include "common/retention/janitor.h"

namespace crm::auth {

struct UserRecord {
  int64_t id = 0;
  std::string name;
  std::string email;
  std::string role;  // "ADMIN", "AGENT", "CLIENT", "SERVICE"
  bool active = true;
  int64_t version = 0;
  absl::Time created_at;
  absl::Time updated_at;
  std::string password_hash;  // never leaves the service
};

struct NewUser {
  std::string name;
  std::string email;  // normalised
  std::string role;
  std::string password_hash;
};

struct UserChanges {
  std::optional<std::string> name;
  std::optional<std::string> email;
  std::optional<std::string> role;
};

struct ListUsersQuery {
  std::optional<std::string> role;
  std::optional<bool> active;
  int64_t after_id = 0;
  int limit = 50;
};

struct RefreshTokenRotation {
  UserRecord user;
  std::string family_id;
};

class UserRepository {
 public:
  // `reader` (optional) serves GetAsync; without one, only the blocking
  // calls are available.
  explicit UserRepository(db::Pool* pool, db::PipelinedReader* reader = nullptr)
      : pool_(pool), reader_(reader) {}

  // The statements this repository prepares on every pooled connection.
  static std::vector<db::PreparedStatement> Statements();

  bool AnyUsers();

  // ALREADY_EXISTS when the email is taken. With a request id, a retry by the
  // same caller returns the user the first call created (`*replayed` set).
  absl::StatusOr<UserRecord> Create(const NewUser& user, int64_t caller_id,
                                    const std::string& request_id);
  absl::StatusOr<UserRecord> Get(int64_t id);
  // Get without blocking: `done` runs on the reader's thread (it must not
  // block either). Only when HasAsyncReads().
  bool HasAsyncReads() const { return reader_ != nullptr; }
  void GetAsync(int64_t id, absl::AnyInvocable<void(absl::StatusOr<UserRecord>) &&> done);
  absl::StatusOr<std::optional<UserRecord>> FindByEmail(const std::string& email);
  absl::StatusOr<std::vector<UserRecord>> List(const ListUsersQuery& query);

  // ABORTED when `expected_version` (if non-zero) is not the current one.
  absl::StatusOr<UserRecord> Update(int64_t id, const UserChanges& changes,
                                    int64_t expected_version, int64_t actor_id);
  // Deactivates and revokes every refresh token of the user, atomically.
  absl::StatusOr<UserRecord> Deactivate(int64_t id, int64_t expected_version, int64_t actor_id);
  // Sets the hash; with `revoke_tokens`, also revokes the user's refresh
  // tokens in the same transaction. Returns how many were revoked. A
  // `password_changed` change is an activity; a re-hash on sign-in is not.
  absl::StatusOr<int> SetPasswordHash(int64_t id, const std::string& hash, bool revoke_tokens,
                                      bool password_changed, int64_t actor_id);

  absl::Status StoreRefreshToken(const std::string& token_hash, int64_t user_id,
                                 const std::string& family_id, absl::Time expires_at);
  // Retires `old_hash` and stores `new_hash` in its family. A retired or
  // revoked token revokes its whole family (reuse means theft);
  // unknown, expired, reused or deactivated → UNAUTHENTICATED.
  absl::StatusOr<RefreshTokenRotation> RotateRefreshToken(const std::string& old_hash,
                                                          const std::string& new_hash,
                                                          absl::Time new_expires_at);
  // The owner of a live refresh token (not revoked, rotated or expired).
  absl::StatusOr<std::optional<int64_t>> UserOfRefreshToken(const std::string& token_hash);
  absl::StatusOr<int> RevokeRefreshTokens(int64_t user_id);

  // The janitor's tasks for this repository's tables: refresh tokens a day
  // past expiry (a retired one is kept until then, so its reuse is still
  // caught). The kit purges request results.
  std::vector<retention::PurgeTask> PurgeTasks();

 private:
  db::Pool* const pool_;
  db::PipelinedReader* const reader_;
};

}  // namespace crm::auth
