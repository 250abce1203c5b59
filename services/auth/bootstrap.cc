#include "services/auth/bootstrap.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/service_credentials.h"
#include "common/files/read_file.h"
#include "common/log/log.h"
#include "services/auth/user_validation.h"

namespace crm::auth {
namespace {

absl::StatusOr<std::string> ReadSecret(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) {
    return content.status();
  }
  return std::string(absl::StripTrailingAsciiWhitespace(*content));
}

}  // namespace

absl::Status EnsureBootstrapAdmin(UserRepository& users, PasswordHasher& hasher,
                                  const std::string& email, const std::string& password_file) {
  if (users.AnyUsers()) {
    return absl::OkStatus();
  }
  if (password_file.empty()) {
    log::Warning("no users and no --admin_password_file: nobody can sign in yet");
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> normalised = NormalizeEmail(email, "--admin_email");
  if (!normalised.ok()) {
    return normalised.status();
  }
  absl::StatusOr<std::string> password = ReadSecret(password_file);
  if (!password.ok()) {
    return password.status();
  }
  if (absl::Status valid = PasswordHasher::Validate(*password, "admin password"); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<std::string> hash = hasher.Hash(*password);
  if (!hash.ok()) {
    return hash.status();
  }
  absl::StatusOr<UserRecord> admin = users.Create(
      NewUser{
          .name = "Administrator", .email = *normalised, .role = "ADMIN", .password_hash = *hash},
      0, "");
  if (!admin.ok() && admin.status().code() != absl::StatusCode::kAlreadyExists) {
    return admin.status();
  }
  log::Info("bootstrap admin created").Str("email", *normalised);
  return absl::OkStatus();
}

absl::Status EnsureServiceAccounts(UserRepository& users, PasswordHasher& hasher,
                                   const std::string& directory) {
  if (directory.empty()) {
    return absl::OkStatus();
  }
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || !absl::EndsWith(file, ".secret")) {
      continue;
    }
    const std::string name = file.substr(0, file.size() - std::string(".secret").size());
    absl::StatusOr<std::string> secret = ReadSecret(entry.path().string());
    if (!secret.ok()) {
      return secret.status();
    }
    if (absl::Status valid = PasswordHasher::Validate(*secret, file); !valid.ok()) {
      return valid;
    }
    const std::string email = ServiceAccountEmail(name);
    absl::StatusOr<std::optional<UserRecord>> existing = users.FindByEmail(email);
    if (!existing.ok()) {
      return existing.status();
    }
    if (existing->has_value()) {
      absl::StatusOr<bool> same = hasher.Verify(*secret, (*existing)->password_hash);
      if (same.ok() && *same) {
        continue;
      }
      absl::StatusOr<std::string> hash = hasher.Hash(*secret);
      if (!hash.ok()) {
        return hash.status();
      }
      if (absl::StatusOr<int> set = users.SetPasswordHash((*existing)->id, *hash, true, true, 0);
          !set.ok()) {
        return set.status();
      }
      log::Info("service account secret rotated").Str("account", name);
      continue;
    }
    absl::StatusOr<std::string> hash = hasher.Hash(*secret);
    if (!hash.ok()) {
      return hash.status();
    }
    absl::StatusOr<UserRecord> created =
        users.Create(NewUser{.name = absl::StrCat(name, " service"),
                             .email = email,
                             .role = "SERVICE",
                             .password_hash = *hash},
                     0, "");
    if (!created.ok()) {
      return created.status();
    }
    log::Info("service account created").Str("account", name).Int("user_id", created->id);
  }
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read directory ", directory));
  }
  return absl::OkStatus();
}

}  // namespace crm::auth
