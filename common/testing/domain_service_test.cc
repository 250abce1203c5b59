#include "common/testing/domain_service_test.h"

#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/testing/subprocess.h"

namespace crm::testing {

DomainServiceTest::DomainServiceTest(std::string service,
                                     std::map<std::string, std::string> accounts)
    : service_name_(std::move(service)), accounts_(std::move(accounts)) {}

void DomainServiceTest::SetUp() {
  PgTest::SetUp();
  if (HasFatalFailure()) {
    return;
  }
  auto auth_dsn = cluster_->CreateServiceDatabase(db_name_ + "_auth");
  ASSERT_TRUE(auth_dsn.ok()) << auth_dsn.status();
  dir_ = absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-", service_name_,
                      "-test-", getpid(), "-", db_name_);
  auto auth = TestAuth::Start(*auth_dsn, dir_, accounts_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  auth_ = *std::move(auth);
  admin_ = auth_->admin();
  StartService();
}

void DomainServiceTest::TearDown() {
  service_.reset();
  auth_.reset();
  if (!dir_.empty()) {
    std::filesystem::remove_all(dir_);
  }
}

void DomainServiceTest::StartService(const std::vector<std::string>& extra) {
  service_.reset();
  std::vector<std::string> flags = {
      "--dsn=" + dsn_, "--auth_address=" + auth_->process().address(),
      "--service_account_secret_file=" + auth_->ServiceSecretFile(service_name_),
      absl::StrCat("--audit_address=127.0.0.1:", FreePort()), "--directory_cache_seconds=1"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  auto service = ServiceProcess::Start(service_name_, flags);
  ASSERT_TRUE(service.ok()) << service.status();
  service_ = *std::move(service);
  ServiceStarted();
}

}  // namespace crm::testing
