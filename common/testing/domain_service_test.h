#pragma once

// A GoogleTest fixture for a domain service's end-to-end suite. Per test,
// beside the test's own database (PgTest): the real crm-auth on a database
// of its own, the service accounts' secrets in a private directory, and the
// service's binary with the flags every domain service takes (its database,
// auth's address, its account's secret, a 1 s user directory cache, and an
// audit address nobody serves, so its events stay in the outbox where the
// test reads them). Both are stopped by pid and the directory removed after
// each test.
//
//   class LeadServiceTest : public DomainServiceTest {
//    protected:
//     LeadServiceTest() : DomainServiceTest("leads", {{"leads", kLeadsSecret}}) {}
//     void ServiceStarted() override { stub_ = LeadService::NewStub(service().channel()); }
//   };

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/pg_fixture.h"
#include "common/testing/service_process.h"
#include "common/testing/test_auth.h"

namespace crm::testing {

class DomainServiceTest : public PgTest {
 protected:
  // `service`: the binary is crm-<service>; `accounts`: the service accounts
  // auth knows (name to secret), the service's own among them.
  DomainServiceTest(std::string service, std::map<std::string, std::string> accounts);

  void SetUp() override;
  void TearDown() override;

  // Starts the service (stopping it first if it runs) with the common flags
  // and then `extra`; ServiceStarted() follows a successful start.
  void StartService(const std::vector<std::string>& extra = {});
  // What the suite does after every start: make its stubs.
  virtual void ServiceStarted() {}

  TestAuth& auth() { return *auth_; }
  ServiceProcess& service() { return *service_; }

  // The bootstrap admin, signed in (set by SetUp).
  TestUser admin_;

 private:
  const std::string service_name_;
  const std::map<std::string, std::string> accounts_;
  std::string dir_;
  std::unique_ptr<TestAuth> auth_;
  std::unique_ptr<ServiceProcess> service_;
};

}  // namespace crm::testing
