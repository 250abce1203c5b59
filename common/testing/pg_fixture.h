#pragma once

// A GoogleTest fixture sharing one throwaway cluster across a test suite
// (initdb costs ~1.5 s) and giving each test a fresh database of its own.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/pg_cluster.h"
#include "gtest/gtest.h"

namespace crm::testing {

class PgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster).release();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    static int counter = 0;
    db_name_ = absl::StrCat("crm_test_", ++counter);
    auto dsn = cluster_->CreateServiceDatabase(db_name_);
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
  }

  static PgCluster* cluster_;
  std::string db_name_;
  std::string dsn_;  // the test database's owner role, like a service's
};

inline PgCluster* PgTest::cluster_ = nullptr;

}  // namespace crm::testing
