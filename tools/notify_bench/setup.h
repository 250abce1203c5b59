#pragma once

// crm-notify-bench's preparation, as the admin: its users (AGENTs who get
// the leads, CLIENTs who hold the idle watchers), their sign-ins, and its
// leads. Everything is found again by a fixed name on the next run rather
// than created anew: users cannot be deleted, so each run gives the same
// users (fixed emails per index) a fresh random password of its own, which
// lives only in this process's memory.
//
// Auth hashes every password it sets or checks (argon2id, tens of ms each, a
// pool of 2 and a budget of 8 sign-ins a second), so those calls run a few at
// a time and are retried while auth answers RESOURCE_EXHAUSTED.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/auth/v1/user.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace crm::notify_bench {

// How setup calls are made: each with a deadline of `call`, and a call
// refused with RESOURCE_EXHAUSTED or UNAVAILABLE retried (backing off) for
// up to `retry` in all.
struct CallPolicy {
  absl::Duration call = absl::Seconds(10);
  absl::Duration retry = absl::Seconds(60);
};

// Runs `call` with a fresh context (deadline set) until it succeeds, fails
// otherwise, or `policy.retry` has passed.
grpc::Status CallWithRetries(const CallPolicy& policy,
                             absl::FunctionRef<grpc::Status(grpc::ClientContext&)> call);

// Runs task(0), ..., task(n - 1) on `workers` threads and returns the first
// error (no task starts after it). Shows "<what> i/n" on stderr as it goes.
absl::Status ForEachConcurrently(int n, int workers, absl::string_view what,
                                 absl::FunctionRef<absl::Status(int)> task);

// The admin's session: where to call, and its access token.
struct Admin {
  std::shared_ptr<grpc::Channel> auth;
  std::shared_ptr<grpc::Channel> leads;
  std::string token;
  CallPolicy policy;
};

struct BenchUser {
  std::string email;
  std::string name;
  auth::v1::Role role = auth::v1::ROLE_CLIENT;
  int64_t id = 0;
  std::string password;  // set by EnsureUsers; never printed
  std::string token;     // set by SignInAll
};

// `agents` AGENTs <prefix>-agent-<i>@bench.example.net (i from 1) and
// `clients` CLIENTs <prefix>-client-<nnnn>@bench.example.net (from 0001).
std::vector<BenchUser> BenchUsers(const std::string& prefix, int agents, int clients);

struct UsersSetup {
  int created = 0;       // CreateUser
  int reset = 0;         // existed: ChangePassword
  int role_changed = 0;  // existed with another role: UpdateUser
};

// Gives every user a new random password: CreateUser when its email is
// unknown, else ChangePassword (and UpdateUser when its role differs).
// FAILED_PRECONDITION for a deactivated one (auth cannot reactivate users:
// pick another prefix). Sets each user's id and password.
absl::StatusOr<UsersSetup> EnsureUsers(const Admin& admin, std::vector<BenchUser>& users,
                                       int concurrency);

// Signs every user in, `concurrency` at a time; sets each one's token.
absl::Status SignInAll(const std::shared_ptr<grpc::Channel>& auth, std::vector<BenchUser>& users,
                       int concurrency, const CallPolicy& policy);

// UpdateUser of the role alone.
absl::Status SetRole(const Admin& admin, const BenchUser& user, auth::v1::Role role);

struct BenchLead {
  int64_t id = 0;
  int64_t agent_id = 0;  // currently assigned to (0: nobody)
  int64_t version = 0;
};

// `count` leads of source "notify_bench" with external ids "<prefix>-<nnnn>",
// found with ListLeads or created (unassigned) when missing, in that order.
absl::StatusOr<std::vector<BenchLead>> EnsureLeads(const Admin& admin, const std::string& prefix,
                                                   int count);

}  // namespace crm::notify_bench
