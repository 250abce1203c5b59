#pragma once

// A private PKI made in code for TLS tests, written as PEM files into a fresh
// temporary directory that the destructor removes:
//
//   ca.crt                      a CA
//   server.crt/.key, client.crt/.key
//                               leaves it signs; both name localhost and
//                               127.0.0.1 and may serve and connect, like the
//                               certificates `tools/crm up --tls` makes
//   other_ca.crt, rogue.crt/.key
//                               another CA, and a leaf it signs
//
//   absl::StatusOr<std::unique_ptr<TestPki>> pki = TestPki::Create();
//   flags.push_back("--tls_cert_file=" + (*pki)->Path("server.crt"));

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::testing {

class TestPki {
 public:
  static absl::StatusOr<std::unique_ptr<TestPki>> Create();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  ~TestPki();

  std::string Path(absl::string_view file) const;
  // The file's contents ("" if it cannot be read).
  std::string Read(absl::string_view file) const;

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
};

}  // namespace crm::testing
