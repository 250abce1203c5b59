#pragma once

// What every service binary is made of, started from the common flags, so a
// service's main() reads as a list of its own parts:
//
//   int main(int argc, char** argv) {
//     auto kit = crm::service::Kit::Start(argc, argv, {
//         .info = {.name = "leads", .default_port = 50052},
//         .migrations = crm::leads::Migrations(),
//         .statements = crm::leads::LeadRepository::Statements()});
//     if (!kit.ok()) return kit.exit_code();
//     crm::leads::LeadRepository leads(&kit->pool());
//     crm::leads::LeadServiceImpl service({.leads = &leads, .authenticator = &kit->authenticator(),
//                                          .executor = &kit->executor()});
//     kit->AddService(&service, crm::leads::v1::LeadService::service_full_name());
//     return kit->Run();
//   }
//
// Start() does, in order: InitService (flags, signals, log), the database
// (wait, migrate, pool: OpenServiceDatabase), with an outbox the relay to
// audit and the purge of delivered rows, the blocking executor
// (--db_pool_size workers, --max_queued_requests waiting), the page-token
// codec when asked for, and the runner with the database as a dependency
// and the relay in its health details. The service's own credentials
// (--service_account_secret_file) serve the relay and the service's calls to
// other services. The authenticator verifies against
// auth's published keys unless the service sets its own first (auth does,
// with its local keys). Run() starts the janitor and serves until SIGTERM.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/auth/authenticator.h"
#include "common/auth/service_credentials.h"
#include "common/db/migrations.h"
#include "common/db/pipelined_reader.h"
#include "common/db/pool.h"
#include "common/outbox/relay_flags.h"
#include "common/pagination/page_token.h"
#include "common/retention/janitor.h"
#include "common/server/blocking_executor.h"
#include "common/server/flags.h"
#include "common/server/runner.h"
#include "common/users/user_directory.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/service_type.h"

namespace crm::service {

struct KitOptions {
  server::ServiceInfo info;
  std::vector<db::Migration> migrations = {};  // the service's own
  std::vector<db::PreparedStatement> statements = {};
  // The `outbox` table (its migrations appended to the service's), its relay
  // to audit, and the janitor's purge of delivered rows.
  bool outbox = true;
  // A PageTokenCodec from --page_token_secret_file.
  bool page_tokens = false;
  // The `request_results` table and statements behind idempotency::Begin
  // and Remember, and the janitor's purge of old results.
  bool request_results = false;
  // A db::PipelinedReader (--db_read_connections, 0: none) preparing the
  // same statements, for reads that hold no thread (reader()); its loop runs
  // on a lent gRPC callback thread (--db_reader_on_grpc_thread).
  bool pipelined_reads = false;
  // server::RunnerOptions::fixed_stream_window (bulk client-streaming RPCs).
  bool fixed_stream_window = false;
};

class Kit {
 public:
  // The kit, or the exit code main() should return: 0 when SIGTERM came
  // during start-up, 1 (with the reason logged) when a part failed.
  class Started {
   public:
    bool ok() const { return kit_ != nullptr; }
    int exit_code() const { return exit_code_; }
    Kit* operator->() const { return kit_.get(); }
    Kit& operator*() const { return *kit_; }

   private:
    friend class Kit;
    std::unique_ptr<Kit> kit_;
    int exit_code_ = 1;
  };

  static Started Start(int argc, char** argv, KitOptions options);

  Kit(const Kit&) = delete;
  Kit& operator=(const Kit&) = delete;
  ~Kit();

  const server::ServiceFlags& flags() const { return flags_; }
  db::Pool& pool() { return *pool_; }
  // The pipelined reader; nullptr unless asked for and --db_read_connections > 0.
  db::PipelinedReader* reader() { return reader_.get(); }
  server::BlockingExecutor& executor() { return *executor_; }
  const pagination::PageTokenCodec& page_tokens() const { return *page_tokens_; }
  retention::Janitor& janitor() { return *janitor_; }
  server::Runner& runner() { return *runner_; }
  // The service account's credentials; nullptr when none are configured.
  auth::ServiceCredentials* service_credentials() { return credentials_.get(); }
  // The one channel to auth (--auth_address): the credentials' sign-ins and
  // the service's directory look-ups. Made on first use, during start-up.
  std::shared_ptr<grpc::Channel> auth_channel();

  // Auth's users (who is an active agent...), asked as the service account
  // over auth_channel(), each answer reused for --directory_cache_seconds.
  // Made on first use; without credentials every look-up fails
  // FAILED_PRECONDITION naming the missing flag.
  users::UserDirectory& user_directory();

  // The token verifier: the one given to UseAuthenticator, else one that
  // verifies against auth's published keys (--auth_address), made on first
  // use.
  auth::Authenticator& authenticator();
  // Before anything asks for authenticator(); `authenticator` must outlive
  // Run().
  void UseAuthenticator(auth::Authenticator* authenticator) {
    external_authenticator_ = authenticator;
  }

  // Registers an implementation (Runner::AddService).
  void AddService(grpc::Service* service, const std::string& full_name);

  // Starts the janitor and serves until SIGTERM or SIGINT; returns the exit
  // code once serving has stopped and the janitor with it, so the service's
  // own parts (declared after the kit) may go before the kit.
  int Run();

 private:
  explicit Kit(server::ServiceFlags flags);

  const server::ServiceFlags flags_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<db::PipelinedReader> reader_;
  std::unique_ptr<auth::ServiceCredentials> credentials_;
  std::shared_ptr<grpc::Channel> auth_channel_;
  std::unique_ptr<users::UserDirectory> user_directory_;
  std::unique_ptr<outbox::ConfiguredRelay> relay_;
  std::unique_ptr<server::BlockingExecutor> executor_;
  std::unique_ptr<pagination::PageTokenCodec> page_tokens_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  auth::Authenticator* external_authenticator_ = nullptr;
  std::unique_ptr<retention::Janitor> janitor_;
  // Last: stopped first, so nothing it serves outlives what it uses.
  std::unique_ptr<server::Runner> runner_;
};

}  // namespace crm::service
