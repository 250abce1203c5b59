#include "services/auth/user_repository.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/db/row_fields.h"
#include "common/idempotency/request_results.h"
#include "common/outbox/details_json.h"
#include "common/outbox/outbox.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"

namespace crm::auth {
namespace {

const std::string& UserColumns() {
  static const std::string* const columns = new std::string(absl::StrCat(
      "id, name, email, role, active, version, ", timestamp::MicrosColumn("created_at"), ", ",
      timestamp::MicrosColumn("updated_at"), ", password_hash"));
  return *columns;
}

UserRecord ParseUser(const db::RowFields& f) {
  UserRecord user;
  user.id = f.Int64("id");
  user.name = f.Str("name");
  user.email = f.Str("email");
  user.role = f.Str("role");
  user.active = f.Bool("active");
  user.version = f.Int64("version");
  user.created_at = timestamp::FromMicros(f.Int64("created_at"));
  user.updated_at = timestamp::FromMicros(f.Int64("updated_at"));
  user.password_hash = f.Str("password_hash");
  return user;
}

UserRecord ToUser(const pqxx::row& row) { return ParseUser(db::RowFields(row)); }

absl::Status NotFound() { return absl::NotFoundError("user not found"); }

using json = nlohmann::json;

constexpr absl::string_view kService = "auth";

absl::Status RecordUserActivity(pqxx::transaction_base& tx, int64_t actor_id,
                                const std::string& action, int64_t user_id, const json& details) {
  return outbox::Record(tx, kService,
                        outbox::Activity{.actor_user_id = actor_id,
                                         .action = action,
                                         .entity_type = "user",
                                         .entity_id = user_id,
                                         .details_json = outbox::DetailsJson(details)});
}

absl::Status VersionMismatch();

// Reads and row-locks a user about to change, checking the expected version
// (0: any).
absl::StatusOr<UserRecord> LockForChange(pqxx::work& tx, int64_t id, int64_t expected_version) {
  pqxx::result current = tx.exec_prepared("users_get_for_update", id);
  if (current.empty()) {
    return NotFound();
  }
  UserRecord user = ToUser(current[0]);
  if (expected_version != 0 && expected_version != user.version) {
    return VersionMismatch();
  }
  return user;
}

absl::Status VersionMismatch() {
  return absl::AbortedError(
      "user was changed by someone else (version mismatch); reload and retry");
}

}  // namespace

std::vector<db::PreparedStatement> UserRepository::Statements() {
  const std::string& columns = UserColumns();
  return {
      {"users_any", "SELECT EXISTS (SELECT 1 FROM users) AS any"},
      {"users_insert",
       absl::StrCat("INSERT INTO users (name, email, role, password_hash) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (email) DO NOTHING RETURNING ",
                    columns)},
      {"users_get", absl::StrCat("SELECT ", columns, " FROM users WHERE id = $1")},
      {"users_get_for_update",
       absl::StrCat("SELECT ", columns, " FROM users WHERE id = $1 FOR UPDATE")},
      {"users_by_email", absl::StrCat("SELECT ", columns, " FROM users WHERE email = $1")},
      {"users_list", absl::StrCat("SELECT ", columns,
                                  " FROM users WHERE id > $1 AND ($2::text IS NULL OR role = $2) "
                                  "AND ($3::boolean IS NULL OR active = $3) ORDER BY id LIMIT $4")},
      {"users_update",
       absl::StrCat("UPDATE users SET name = $2, email = $3, role = $4, version = version + 1, "
                    "updated_at = now() WHERE id = $1 RETURNING ",
                    columns)},
      {"users_deactivate",
       absl::StrCat("UPDATE users SET active = false, version = version + 1, updated_at = now() "
                    "WHERE id = $1 RETURNING ",
                    columns)},
      {"users_set_password",
       "UPDATE users SET password_hash = $2, version = version + 1, updated_at = now() "
       "WHERE id = $1"},
      {"refresh_insert",
       "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) "
       "VALUES ($1, $2, $3::uuid, $4::timestamptz)"},
      {"refresh_get_for_update",
       "SELECT user_id, family_id::text AS family_id, retired_at IS NOT NULL AS retired, "
       "revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired FROM refresh_tokens "
       "WHERE token_hash = $1 FOR UPDATE"},
      {"refresh_retire", "UPDATE refresh_tokens SET retired_at = now() WHERE token_hash = $1"},
      {"refresh_revoke_family",
       "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1::uuid "
       "AND revoked_at IS NULL"},
      {"refresh_revoke_user",
       "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL "
       "AND retired_at IS NULL AND expires_at > now()"},
      // Only a live token names its owner: a revoked, rotated or expired one
      // must not sign the user out of every other session.
      {"refresh_user",
       "SELECT user_id FROM refresh_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
       "AND retired_at IS NULL AND expires_at > now()"},
  };
}

bool UserRepository::AnyUsers() {
  bool any = true;
  absl::Status status = pool_->Read([&](pqxx::nontransaction& tx) {
    any = tx.exec_prepared1("users_any")["any"].as<bool>();
    return absl::OkStatus();
  });
  return !status.ok() || any;
}

absl::StatusOr<UserRecord> UserRepository::Create(const NewUser& user, int64_t caller_id,
                                                  const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<UserRecord> {
    // Retries racing each other wait here for the first to commit, then
    // find its result instead of failing on the email it just took.
    if (std::optional<idempotency::Result> done =
            idempotency::Begin(tx, caller_id, "CreateUser", request_id)) {
      pqxx::result row = tx.exec_prepared("users_get", done->resource_id);
      if (row.empty()) {
        return NotFound();
      }
      return ToUser(row[0]);
    }
    pqxx::result row =
        tx.exec_prepared("users_insert", user.name, user.email, user.role, user.password_hash);
    if (row.empty()) {
      return absl::AlreadyExistsError("a user with this email already exists");
    }
    UserRecord created = ToUser(row[0]);
    if (absl::Status recorded = RecordUserActivity(
            tx, caller_id, "user.created", created.id,
            {{"name", created.name}, {"email", created.email}, {"role", created.role}});
        !recorded.ok()) {
      return recorded;
    }
    idempotency::Remember(tx, caller_id, "CreateUser", request_id, {.resource_id = created.id});
    return created;
  });
}

namespace {

// Reads at most one user with a one-parameter statement.
template <typename Param>
absl::StatusOr<std::optional<UserRecord>> ReadOneUser(db::Pool& pool, const char* statement,
                                                      const Param& param) {
  return db::ReadFor(pool,
                     [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::optional<UserRecord>> {
                       pqxx::result row = tx.exec_prepared(statement, param);
                       if (row.empty()) {
                         return std::nullopt;
                       }
                       return ToUser(row[0]);
                     });
}

}  // namespace

absl::StatusOr<UserRecord> UserRepository::Get(int64_t id) {
  absl::StatusOr<std::optional<UserRecord>> user = ReadOneUser(*pool_, "users_get", id);
  if (!user.ok()) {
    return user.status();
  }
  if (!user->has_value()) {
    return NotFound();
  }
  return **user;
}

void UserRepository::GetAsync(int64_t id,
                              absl::AnyInvocable<void(absl::StatusOr<UserRecord>) &&> done) {
  reader_->Read("users_get", {absl::StrCat(id)},
                [done = std::move(done)](absl::StatusOr<db::Rows> rows) mutable {
                  if (!rows.ok()) {
                    std::move(done)(rows.status());
                    return;
                  }
                  if (rows->size() == 0) {
                    std::move(done)(NotFound());
                    return;
                  }
                  std::move(done)(ParseUser(db::RowFields(*rows, 0)));
                });
}

absl::StatusOr<std::optional<UserRecord>> UserRepository::FindByEmail(const std::string& email) {
  return ReadOneUser(*pool_, "users_by_email", email);
}

absl::StatusOr<std::vector<UserRecord>> UserRepository::List(const ListUsersQuery& query) {
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<UserRecord>> {
        std::vector<UserRecord> users;
        for (const auto& row : tx.exec_prepared("users_list", query.after_id, query.role,
                                                query.active, query.limit)) {
          users.push_back(ToUser(row));
        }
        return users;
      });
}

absl::StatusOr<UserRecord> UserRepository::Update(int64_t id, const UserChanges& changes,
                                                  int64_t expected_version, int64_t actor_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<UserRecord> {
    absl::StatusOr<UserRecord> locked = LockForChange(tx, id, expected_version);
    if (!locked.ok()) {
      return locked.status();
    }
    const UserRecord& user = *locked;
    pqxx::result row =
        tx.exec_prepared("users_update", id, changes.name.value_or(user.name),
                         changes.email.value_or(user.email), changes.role.value_or(user.role));
    UserRecord updated = ToUser(row[0]);
    json details = json::object();
    for (const auto& [field, before, after] : {std::tuple{"name", user.name, updated.name},
                                               std::tuple{"email", user.email, updated.email},
                                               std::tuple{"role", user.role, updated.role}}) {
      if (before != after) {
        details[field] = {{"old", before}, {"new", after}};
      }
    }
    if (absl::Status recorded = RecordUserActivity(
            tx, actor_id, user.role != updated.role ? "user.role_changed" : "user.updated", id,
            details);
        !recorded.ok()) {
      return recorded;
    }
    return updated;
  });
}

absl::StatusOr<UserRecord> UserRepository::Deactivate(int64_t id, int64_t expected_version,
                                                      int64_t actor_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<UserRecord> {
    absl::StatusOr<UserRecord> locked = LockForChange(tx, id, expected_version);
    if (!locked.ok()) {
      return locked.status();
    }
    if (!locked->active) {
      return *locked;  // already done: idempotent
    }
    UserRecord updated = ToUser(tx.exec_prepared1("users_deactivate", id));
    const int revoked =
        static_cast<int>(tx.exec_prepared("refresh_revoke_user", id).affected_rows());
    if (absl::Status recorded = RecordUserActivity(
            tx, actor_id, "user.deactivated", id,
            {{"active", {{"old", true}, {"new", false}}}, {"revoked_tokens", revoked}});
        !recorded.ok()) {
      return recorded;
    }
    return updated;
  });
}

absl::StatusOr<int> UserRepository::SetPasswordHash(int64_t id, const std::string& hash,
                                                    bool revoke_tokens, bool password_changed,
                                                    int64_t actor_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<int> {
    if (tx.exec_prepared("users_set_password", id, hash).affected_rows() == 0) {
      return NotFound();
    }
    const int revoked =
        revoke_tokens
            ? static_cast<int>(tx.exec_prepared("refresh_revoke_user", id).affected_rows())
            : 0;
    if (password_changed) {
      if (absl::Status recorded = RecordUserActivity(tx, actor_id, "user.password_changed", id,
                                                     {{"revoked_tokens", revoked}});
          !recorded.ok()) {
        return recorded;
      }
    }
    return revoked;
  });
}

absl::Status UserRepository::StoreRefreshToken(const std::string& token_hash, int64_t user_id,
                                               const std::string& family_id,
                                               absl::Time expires_at) {
  return pool_->Transact([&](pqxx::work& tx) {
    tx.exec_prepared("refresh_insert", pqxx::binarystring(token_hash), user_id, family_id,
                     timestamp::SqlText(expires_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<RefreshTokenRotation> UserRepository::RotateRefreshToken(const std::string& old_hash,
                                                                        const std::string& new_hash,
                                                                        absl::Time new_expires_at) {
  RefreshTokenRotation rotation;
  bool reuse_detected = false;
  absl::Status status = pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    reuse_detected = false;
    pqxx::result token = tx.exec_prepared("refresh_get_for_update", pqxx::binarystring(old_hash));
    if (token.empty()) {
      return absl::UnauthenticatedError("invalid refresh token");
    }
    const int64_t user_id = token[0]["user_id"].as<int64_t>();
    const std::string family = token[0]["family_id"].as<std::string>();
    const bool retired = token[0]["retired"].as<bool>();
    const bool revoked = token[0]["revoked"].as<bool>();
    const bool expired = token[0]["expired"].as<bool>();
    if (retired && !revoked) {
      // A used token came back: whoever holds the family is not trusted.
      tx.exec_prepared("refresh_revoke_family", family);
      reuse_detected = true;
      return absl::OkStatus();  // commit the revocation, then refuse
    }
    if (revoked || expired) {
      return absl::UnauthenticatedError("invalid refresh token");
    }
    pqxx::result user = tx.exec_prepared("users_get", user_id);
    if (user.empty() || !user[0]["active"].as<bool>()) {
      return absl::UnauthenticatedError("invalid refresh token");
    }
    tx.exec_prepared("refresh_retire", pqxx::binarystring(old_hash));
    tx.exec_prepared("refresh_insert", pqxx::binarystring(new_hash), user_id, family,
                     timestamp::SqlText(new_expires_at));
    rotation.user = ToUser(user[0]);
    rotation.family_id = family;
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  if (reuse_detected) {
    return absl::UnauthenticatedError("invalid refresh token");
  }
  return rotation;
}

absl::StatusOr<std::optional<int64_t>> UserRepository::UserOfRefreshToken(
    const std::string& token_hash) {
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::optional<int64_t>> {
        pqxx::result row = tx.exec_prepared("refresh_user", pqxx::binarystring(token_hash));
        if (row.empty()) {
          return std::nullopt;
        }
        return row[0]["user_id"].as<int64_t>();
      });
}

absl::StatusOr<int> UserRepository::RevokeRefreshTokens(int64_t user_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<int> {
    return static_cast<int>(tx.exec_prepared("refresh_revoke_user", user_id).affected_rows());
  });
}

std::vector<retention::PurgeTask> UserRepository::PurgeTasks() {
  std::vector<retention::PurgeTask> tasks;
  tasks.push_back(retention::SqlPurge(
      pool_, "refresh_tokens",
      "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens "
      "WHERE expires_at < now() - make_interval(secs => $2) ORDER BY expires_at LIMIT $1)",
      absl::Hours(24)));
  return tasks;
}

}  // namespace crm::auth
