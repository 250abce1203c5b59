#include "common/users/user_directory.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/client/channel.h"
#include "common/status/grpc_status.h"
#include "crm/auth/v1/user_service.grpc.pb.h"

namespace crm::users {
namespace {

namespace v1 = ::crm::auth::v1;

// Past this many cached answers everything is dropped: a bound on memory
// that costs only some refetches, never a wrong answer.
constexpr size_t kMaxEntries = 10000;

absl::Status Unavailable() { return absl::UnavailableError("auth service unavailable"); }

absl::Status NotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
}

// Auth's answer as our callers should see it: an outage or a slow auth is
// one retryable UNAVAILABLE, without the transport's detail.
absl::Status FromAuth(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Unavailable();
  }
  return FromGrpcStatus(status);
}

v1::Role ToProtoRole(auth::Role role) {
  switch (role) {
    case auth::Role::kAdmin:
      return v1::ROLE_ADMIN;
    case auth::Role::kAgent:
      return v1::ROLE_AGENT;
    case auth::Role::kClient:
      return v1::ROLE_CLIENT;
    case auth::Role::kService:
      return v1::ROLE_SERVICE;
  }
  return v1::ROLE_UNSPECIFIED;
}

absl::StatusOr<DirectoryUser> FromProto(const v1::User& user) {
  DirectoryUser out{
      .id = user.id(), .name = user.name(), .email = user.email(), .active = user.active()};
  switch (user.role()) {
    case v1::ROLE_ADMIN:
      out.role = auth::Role::kAdmin;
      break;
    case v1::ROLE_AGENT:
      out.role = auth::Role::kAgent;
      break;
    case v1::ROLE_CLIENT:
      out.role = auth::Role::kClient;
      break;
    case v1::ROLE_SERVICE:
      out.role = auth::Role::kService;
      break;
    default:
      // A role this build does not know: guessing one could grant or route wrongly.
      return absl::InternalError(
          absl::StrCat("auth answered an unknown role for user ", user.id()));
  }
  return out;
}

}  // namespace

UserDirectory::UserDirectory(UserDirectoryOptions options)
    : channel_(std::move(options.auth_channel)),
      authorize_(std::move(options.authorize)),
      ttl_(options.ttl),
      call_timeout_(options.call_timeout),
      page_size_(options.page_size) {}

absl::StatusOr<DirectoryUser> UserDirectory::Get(int64_t id) {
  if (id <= 0) {
    // Auth reads id 0 as "the caller": that would answer our own service account.
    return NotFound(id);
  }
  return Lookup(users_, id, [this, id] { return FetchUser(id); });
}

absl::StatusOr<std::vector<DirectoryUser>> UserDirectory::ActiveUsers(auth::Role role) {
  return Lookup(active_, role, [this, role] { return FetchActive(role); });
}

void UserDirectory::Invalidate() {
  absl::MutexLock lock(&mu_);
  users_.cached.clear();
  active_.cached.clear();
  // Later misses must not join a fetch that may have read the old state.
  users_.flights.clear();
  active_.flights.clear();
  ++generation_;
}

template <typename Key, typename Value, typename Fetch>
absl::StatusOr<Value> UserDirectory::Lookup(Table<Key, Value>& table, const Key& key, Fetch fetch) {
  std::shared_ptr<Flight<Value>> flight;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = table.cached.find(key); it != table.cached.end()) {
      if (absl::Now() < it->second.expires_at) {
        return it->second.value;
      }
      table.cached.erase(it);
    }
    if (auto it = table.flights.find(key); it != table.flights.end()) {
      // Hold our own reference: the fetcher or Invalidate may drop the map's.
      const std::shared_ptr<Flight<Value>> shared = it->second;
      // Waiting is bounded as our own call would be.
      const absl::Time until = absl::FromChrono(client::OutgoingDeadline(call_timeout_));
      if (!mu_.AwaitWithDeadline(absl::Condition(&shared->done), until)) {
        return Unavailable();
      }
      return shared->result;
    }
    flight = std::make_shared<Flight<Value>>();
    table.flights[key] = flight;
    generation = generation_;
  }

  absl::StatusOr<Value> result = fetch();

  absl::MutexLock lock(&mu_);
  flight->result = result;
  flight->done = true;
  if (auto it = table.flights.find(key); it != table.flights.end() && it->second == flight) {
    table.flights.erase(it);
  }
  if (result.ok() && generation == generation_) {
    if (table.cached.size() >= kMaxEntries) {
      table.cached.clear();
    }
    table.cached.insert_or_assign(key, Cached<Value>{*result, absl::Now() + ttl_});
  }
  return result;
}

absl::Status UserDirectory::Prepare(grpc::ClientContext& context) {
  context.set_deadline(client::OutgoingDeadline(call_timeout_));
  if (!authorize_) {
    return absl::OkStatus();
  }
  absl::Status status = authorize_(context);
  // Signing in is a call to auth too: its outage reads the same.
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return Unavailable();
  }
  return status;
}

absl::StatusOr<DirectoryUser> UserDirectory::FetchUser(int64_t id) {
  grpc::ClientContext context;
  if (absl::Status prepared = Prepare(context); !prepared.ok()) {
    return prepared;
  }
  v1::GetUserRequest request;
  request.set_id(id);
  v1::GetUserResponse response;
  grpc::Status status = v1::UserService::NewStub(channel_)->GetUser(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return NotFound(id);
  }
  if (!status.ok()) {
    return FromAuth(status);
  }
  return FromProto(response.user());
}

absl::StatusOr<std::vector<DirectoryUser>> UserDirectory::FetchActive(auth::Role role) {
  const std::unique_ptr<v1::UserService::Stub> stub = v1::UserService::NewStub(channel_);
  std::vector<DirectoryUser> users;
  std::string page_token;
  for (;;) {
    grpc::ClientContext context;
    if (absl::Status prepared = Prepare(context); !prepared.ok()) {
      return prepared;
    }
    v1::ListUsersRequest request;
    request.set_page_size(page_size_);
    request.set_page_token(page_token);
    request.set_role(ToProtoRole(role));
    request.set_active(true);
    v1::ListUsersResponse response;
    if (grpc::Status status = stub->ListUsers(&context, request, &response); !status.ok()) {
      return FromAuth(status);
    }
    for (const v1::User& proto : response.users()) {
      absl::StatusOr<DirectoryUser> user = FromProto(proto);
      if (!user.ok()) {
        return user.status();
      }
      // The filter is auth's; checked again because a wrong answer here routes leads.
      if (user->active && user->role == role) {
        users.push_back(*std::move(user));
      }
    }
    if (response.next_page_token().empty()) {
      break;
    }
    if (response.next_page_token() == page_token) {
      // Never loop forever on a server that does not advance.
      return absl::InternalError("auth repeated a page token");
    }
    page_token = response.next_page_token();
  }
  std::sort(users.begin(), users.end(),
            [](const DirectoryUser& a, const DirectoryUser& b) { return a.id < b.id; });
  return users;
}

}  // namespace crm::users
