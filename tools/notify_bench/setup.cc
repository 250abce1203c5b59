#include "tools/notify_bench/setup.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/client/channel.h"
#include "crm/auth/v1/user_service.grpc.pb.h"
#include "crm/leads/v1/lead_service.grpc.pb.h"
#include "tools/load/login.h"

namespace crm::notify_bench {
namespace {

using auth::v1::UserService;
using leads::v1::LeadService;

constexpr char kLeadSource[] = "notify_bench";
constexpr int kPageSize = 1000;

absl::Status ToAbsl(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// 24 characters of [A-Za-z0-9] (~143 bits) from the system's random source.
std::string RandomPassword() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<int> pick(0, sizeof(kAlphabet) - 2);
  std::string password(24, ' ');
  for (char& c : password) {
    c = kAlphabet[pick(device)];
  }
  return password;
}

void Authorize(grpc::ClientContext& context, const std::string& token) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

// Every user auth has, by email.
absl::StatusOr<absl::flat_hash_map<std::string, auth::v1::User>> UsersByEmail(const Admin& admin) {
  absl::flat_hash_map<std::string, auth::v1::User> by_email;
  auto stub = UserService::NewStub(admin.auth);
  std::string page_token;
  do {
    auth::v1::ListUsersRequest request;
    request.set_page_size(kPageSize);
    request.set_page_token(page_token);
    auth::v1::ListUsersResponse response;
    const grpc::Status s = CallWithRetries(admin.policy, [&](grpc::ClientContext& context) {
      Authorize(context, admin.token);
      return stub->ListUsers(&context, request, &response);
    });
    if (!s.ok()) {
      return ToAbsl(s, "ListUsers");
    }
    for (const auth::v1::User& user : response.users()) {
      by_email[user.email()] = user;
    }
    page_token = response.next_page_token();
  } while (!page_token.empty());
  return by_email;
}

}  // namespace

grpc::Status CallWithRetries(const CallPolicy& policy,
                             absl::FunctionRef<grpc::Status(grpc::ClientContext&)> call) {
  const absl::Time give_up = absl::Now() + policy.retry;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(client::DeadlineAfter(policy.call));
    grpc::Status s = call(context);
    const bool busy = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                      s.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!busy || absl::Now() + backoff > give_up) {
      return s;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

absl::Status ForEachConcurrently(int n, int workers, absl::string_view what,
                                 absl::FunctionRef<absl::Status(int)> task) {
  const bool tty = isatty(STDERR_FILENO) == 1;
  const std::string label(what);
  const absl::Time start = absl::Now();
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  int done = 0;
  absl::Time shown = start;
  absl::Status first_error;
  const auto work = [&] {
    for (int i = next++; i < n && !failed; i = next++) {
      absl::Status s = task(i);
      absl::MutexLock lock(&mu);
      if (!s.ok()) {
        if (first_error.ok()) {
          first_error = std::move(s);
        }
        failed = true;
        return;
      }
      ++done;
      const absl::Time now = absl::Now();
      // On a terminal a counter redrawn in place; in a log a line every 5 s.
      if (tty && (now - shown > absl::Milliseconds(100) || done == n)) {
        fprintf(stderr, "\rcrm-notify-bench: %s %d/%d", label.c_str(), done, n);
        shown = now;
      } else if (!tty && now - shown > absl::Seconds(5)) {
        fprintf(stderr, "crm-notify-bench: %s %d/%d\n", label.c_str(), done, n);
        shown = now;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min(workers, n); ++t) {
    threads.emplace_back(work);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (tty && done > 0) {
    fprintf(stderr, "\n");
  }
  if (!first_error.ok()) {
    return first_error;
  }
  fprintf(stderr, "crm-notify-bench: %s %d/%d in %.1f s\n", label.c_str(), done, n,
          absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

std::vector<BenchUser> BenchUsers(const std::string& prefix, int agents, int clients) {
  std::vector<BenchUser> users(agents + clients);
  for (int i = 0; i < agents + clients; ++i) {
    BenchUser& user = users[i];
    if (i < agents) {
      user.email = absl::StrCat(prefix, "-agent-", i + 1, "@bench.example.net");
      user.name = absl::StrCat("Notify Bench Agent ", i + 1);
      user.role = auth::v1::ROLE_AGENT;
    } else {
      user.email = absl::StrFormat("%s-client-%04d@bench.example.net", prefix, i - agents + 1);
      user.name = absl::StrFormat("Notify Bench Client %04d", i - agents + 1);
      user.role = auth::v1::ROLE_CLIENT;
    }
  }
  return users;
}

absl::Status SetRole(const Admin& admin, const BenchUser& user, auth::v1::Role role) {
  auto stub = UserService::NewStub(admin.auth);
  auth::v1::UpdateUserRequest request;
  request.mutable_user()->set_id(user.id);
  request.mutable_user()->set_role(role);
  request.mutable_update_mask()->add_paths("role");
  auth::v1::UpdateUserResponse response;
  return ToAbsl(CallWithRetries(admin.policy,
                                [&](grpc::ClientContext& context) {
                                  Authorize(context, admin.token);
                                  return stub->UpdateUser(&context, request, &response);
                                }),
                absl::StrCat("UpdateUser (role) of ", user.email));
}

absl::StatusOr<UsersSetup> EnsureUsers(const Admin& admin, std::vector<BenchUser>& users,
                                       int concurrency) {
  absl::StatusOr<absl::flat_hash_map<std::string, auth::v1::User>> existing = UsersByEmail(admin);
  if (!existing.ok()) {
    return existing.status();
  }
  auto stub = UserService::NewStub(admin.auth);
  absl::Mutex mu;
  UsersSetup setup;
  absl::Status s = ForEachConcurrently(
      static_cast<int>(users.size()), concurrency, "setting bench users' passwords",
      [&](int i) -> absl::Status {
        BenchUser& user = users[i];
        user.password = RandomPassword();
        auto found = existing->find(user.email);
        if (found == existing->end()) {
          auth::v1::CreateUserRequest request;
          request.mutable_user()->set_name(user.name);
          request.mutable_user()->set_email(user.email);
          request.mutable_user()->set_role(user.role);
          request.set_password(user.password);
          auth::v1::CreateUserResponse response;
          const grpc::Status created =
              CallWithRetries(admin.policy, [&](grpc::ClientContext& context) {
                Authorize(context, admin.token);
                return stub->CreateUser(&context, request, &response);
              });
          if (!created.ok()) {
            return ToAbsl(created, absl::StrCat("CreateUser ", user.email));
          }
          user.id = response.user().id();
          absl::MutexLock lock(&mu);
          ++setup.created;
          return absl::OkStatus();
        }
        const auth::v1::User& known = found->second;
        user.id = known.id();
        if (!known.active()) {
          return absl::FailedPreconditionError(
              absl::StrCat(user.email, " (user ", user.id,
                           ") is deactivated and auth cannot reactivate users: run with another "
                           "--email_prefix"));
        }
        if (known.role() != user.role) {
          if (absl::Status r = SetRole(admin, user, user.role); !r.ok()) {
            return r;
          }
          absl::MutexLock lock(&mu);
          ++setup.role_changed;
        }
        auth::v1::ChangePasswordRequest request;
        request.set_user_id(user.id);
        request.set_new_password(user.password);
        auth::v1::ChangePasswordResponse response;
        const grpc::Status changed =
            CallWithRetries(admin.policy, [&](grpc::ClientContext& context) {
              Authorize(context, admin.token);
              return stub->ChangePassword(&context, request, &response);
            });
        if (!changed.ok()) {
          return ToAbsl(changed, absl::StrCat("ChangePassword of ", user.email));
        }
        absl::MutexLock lock(&mu);
        ++setup.reset;
        return absl::OkStatus();
      });
  if (!s.ok()) {
    return s;
  }
  return setup;
}

absl::Status SignInAll(const std::shared_ptr<grpc::Channel>& auth, std::vector<BenchUser>& users,
                       int concurrency, const CallPolicy& policy) {
  return ForEachConcurrently(
      static_cast<int>(users.size()), concurrency, "signing bench users in",
      [&](int i) -> absl::Status {
        BenchUser& user = users[i];
        const absl::Time give_up = absl::Now() + policy.retry;
        absl::Duration backoff = absl::Milliseconds(100);
        while (true) {
          absl::StatusOr<load::AccessToken> token =
              load::LoginWithPassword(auth, user.email, user.password, policy.call);
          if (token.ok()) {
            user.token = std::move(token->token);
            return absl::OkStatus();
          }
          const bool busy = token.status().code() == absl::StatusCode::kResourceExhausted ||
                            token.status().code() == absl::StatusCode::kUnavailable;
          if (!busy || absl::Now() + backoff > give_up) {
            return token.status();
          }
          absl::SleepFor(backoff);
          backoff = std::min(backoff * 2, absl::Seconds(1));
        }
      });
}

absl::StatusOr<std::vector<BenchLead>> EnsureLeads(const Admin& admin, const std::string& prefix,
                                                   int count) {
  auto stub = LeadService::NewStub(admin.leads);
  absl::flat_hash_map<std::string, BenchLead> by_external_id;
  std::string page_token;
  do {
    leads::v1::ListLeadsRequest request;
    request.set_page_size(kPageSize);
    request.set_page_token(page_token);
    request.set_source(kLeadSource);
    leads::v1::ListLeadsResponse response;
    const grpc::Status s = CallWithRetries(admin.policy, [&](grpc::ClientContext& context) {
      Authorize(context, admin.token);
      return stub->ListLeads(&context, request, &response);
    });
    if (!s.ok()) {
      return ToAbsl(s, "ListLeads");
    }
    for (const leads::v1::Lead& lead : response.leads()) {
      by_external_id[lead.external_id()] = {
          .id = lead.id(), .agent_id = lead.assigned_to(), .version = lead.version()};
    }
    page_token = response.next_page_token();
  } while (!page_token.empty());

  std::vector<BenchLead> leads(count);
  int created = 0;
  for (int i = 0; i < count; ++i) {
    const std::string external_id = absl::StrFormat("%s-%04d", prefix, i + 1);
    if (auto it = by_external_id.find(external_id); it != by_external_id.end()) {
      leads[i] = it->second;
      continue;
    }
    leads::v1::CreateLeadRequest request;
    request.mutable_lead()->set_name(absl::StrFormat("Bench Lead %04d", i + 1));
    request.mutable_lead()->set_source(kLeadSource);
    request.mutable_lead()->set_external_id(external_id);
    request.mutable_lead()->set_notes("crm-notify-bench reassigns this lead between its agents");
    leads::v1::CreateLeadResponse response;
    const grpc::Status s = CallWithRetries(admin.policy, [&](grpc::ClientContext& context) {
      Authorize(context, admin.token);
      return stub->CreateLead(&context, request, &response);
    });
    if (!s.ok()) {
      return ToAbsl(s, absl::StrCat("CreateLead ", external_id));
    }
    leads[i] = {.id = response.lead().id(),
                .agent_id = response.lead().assigned_to(),
                .version = response.lead().version()};
    ++created;
  }
  fprintf(stderr, "crm-notify-bench: %d bench leads (source %s): %d found, %d created\n", count,
          kLeadSource, count - created, created);
  return leads;
}

}  // namespace crm::notify_bench
