#include "common/service/kit.h"

#include <algorithm>
#include <utility>

#include "absl/flags/flag.h"
#include "common/auth/authenticator_flags.h"
#include "common/client/channel.h"
#include "common/idempotency/request_results.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/server/callback_thread.h"
#include "common/service/service_database.h"

ABSL_FLAG(int32_t, max_queued_requests, 256,
          "requests waiting for a worker before RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, directory_cache_seconds, 5,
          "how long auth's answers about users (who is an active agent) are reused; a "
          "deactivated agent stops receiving leads and listings within this");

namespace crm::service {

Kit::Kit(server::ServiceFlags flags) : flags_(std::move(flags)) {}

Kit::~Kit() {
  // Served calls end before the parts they use go.
  runner_.reset();
  if (janitor_ != nullptr) {
    janitor_->Stop();
  }
  if (relay_ != nullptr) {
    relay_->Stop();
  }
}

Kit::Started Kit::Start(int argc, char** argv, KitOptions options) {
  Started started;
  server::ServiceFlags flags = server::InitService(argc, argv, options.info);
  std::unique_ptr<Kit> kit(new Kit(std::move(flags)));
  const server::ServiceFlags& f = kit->flags_;

  std::vector<db::Migration> migrations = std::move(options.migrations);
  if (options.outbox) {
    migrations = outbox::WithOutbox(std::move(migrations));
  }
  if (options.request_results) {
    idempotency::AddTo(migrations, options.statements);
  }
  std::vector<db::PreparedStatement> reader_statements;
  if (options.pipelined_reads && f.db_read_connections > 0) {
    reader_statements = options.statements;
  }
  absl::StatusOr<std::unique_ptr<db::Pool>> pool =
      OpenServiceDatabase(f, migrations, std::move(options.statements));
  if (!pool.ok()) {
    started.exit_code_ = pool.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
    return started;
  }
  kit->pool_ = *std::move(pool);
  if (!reader_statements.empty()) {
    kit->reader_ = std::make_unique<db::PipelinedReader>(db::PipelinedReaderOptions{
        .dsn = f.dsn,
        .connections = f.db_read_connections,
        .statements = std::move(reader_statements),
        .run_loop = f.db_reader_on_grpc_thread ? server::LendCallbackThread : nullptr});
  }
  kit->janitor_ = std::make_unique<retention::Janitor>(retention::JanitorOptionsFromFlags());

  absl::StatusOr<std::unique_ptr<auth::ServiceCredentials>> credentials =
      auth::ServiceCredentialsFromFlags(f.service, kit->auth_channel());
  if (!credentials.ok()) {
    log::Error("start failed").Str("error", credentials.status().ToString());
    return started;
  }
  kit->credentials_ = *std::move(credentials);
  if (options.request_results) {
    kit->janitor_->Add(idempotency::PurgeTask(kit->pool_.get(), idempotency::RetentionFromFlags()));
  }
  if (options.outbox) {
    // Delivers this service's activities to audit until the kit goes.
    kit->relay_ = outbox::StartRelayFromFlags(f, kit->credentials_.get());
    kit->janitor_->Add(
        outbox::PurgeDelivered(kit->pool_.get(), outbox::OutboxRetentionFromFlags()));
  }
  if (options.page_tokens) {
    absl::StatusOr<pagination::PageTokenCodec> codec =
        pagination::PageTokenCodec::FromFile(f.page_token_secret_file);
    if (!codec.ok()) {
      log::Error("start failed").Str("error", codec.status().ToString());
      return started;
    }
    kit->page_tokens_ = std::make_unique<pagination::PageTokenCodec>(*std::move(codec));
  }
  kit->executor_ = std::make_unique<server::BlockingExecutor>(
      f.db_pool_size, std::max(1, absl::GetFlag(FLAGS_max_queued_requests)));
  server::RunnerOptions runner_options = server::RunnerOptions::FromFlags(f);
  runner_options.fixed_stream_window = options.fixed_stream_window;
  kit->runner_ = std::make_unique<server::Runner>(std::move(runner_options));
  db::Pool* database = kit->pool_.get();
  kit->runner_->AddDependency("database", [database] { return database->Ping(); });
  if (options.outbox) {
    outbox::AddRelayHealthDetail(*kit->runner_, kit->relay_.get());
  }
  started.kit_ = std::move(kit);
  return started;
}

auth::Authenticator& Kit::authenticator() {
  if (external_authenticator_ != nullptr) {
    return *external_authenticator_;
  }
  if (authenticator_ == nullptr) {
    authenticator_ = auth::RemoteAuthenticatorFromFlags(flags_.client_tls);
  }
  return *authenticator_;
}

std::shared_ptr<grpc::Channel> Kit::auth_channel() {
  if (auth_channel_ == nullptr) {
    auth_channel_ = client::CreateServiceChannel(auth::AuthAddressFromFlags(), flags_.client_tls);
  }
  return auth_channel_;
}

users::UserDirectory& Kit::user_directory() {
  if (user_directory_ == nullptr) {
    auth::ServiceCredentials* credentials = credentials_.get();
    user_directory_ = std::make_unique<users::UserDirectory>(users::UserDirectoryOptions{
        .auth_channel = auth_channel(),
        .authorize = [credentials](grpc::ClientContext& context) -> absl::Status {
          if (credentials == nullptr) {
            return absl::FailedPreconditionError(
                "no service account (--service_account_secret_file) to ask auth with");
          }
          return credentials->Attach(context);
        },
        .ttl = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_directory_cache_seconds)))});
  }
  return *user_directory_;
}

void Kit::AddService(grpc::Service* service, const std::string& full_name) {
  runner_->AddService(service, full_name);
}

int Kit::Run() {
  janitor_->Start();
  const int exit_code = runner_->Run();
  janitor_->Stop();
  return exit_code;
}

}  // namespace crm::service
