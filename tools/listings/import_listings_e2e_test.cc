// crm-import-listings end to end: the real binary, importing feeds that
// crm-reso-feed writes (and a few written by hand), into the real
// crm-properties beside the real crm-auth on a throwaway cluster. One
// cluster and one pair of services serve every test; each test's feed has
// its own ListingId prefix and originating system, so none sees another's
// listings.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/grpc_status.h"
#include "common/testing/pg_cluster.h"
#include "common/testing/service_process.h"
#include "common/testing/subprocess.h"
#include "common/testing/test_auth.h"
#include "common/testing/test_calls.h"
#include "crm/properties/v1/property_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/listings/feed_reader.h"
#include "tools/listings/reso_record.h"

extern char** environ;

namespace crm::listings {
namespace {

using ::crm::testing::PgCluster;
using ::crm::testing::ServiceProcess;
using ::crm::testing::TestAuth;
using ::crm::testing::TestUser;
using ::testing::ContainsRegex;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;
namespace pv1 = ::crm::properties::v1;
namespace av1 = ::crm::auth::v1;

constexpr char kPropertiesSecret[] = "properties-service-account-secret";

struct ToolRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `argv` to its end with stdout and stderr kept apart (RunCommand
// interleaves them): the result goes to one, the progress display to the
// other, and each is checked on its own.
ToolRun RunTool(const std::vector<std::string>& argv, const std::string& dir) {
  static int runs = 0;
  ++runs;
  const std::string out_path = absl::StrCat(dir, "/run-", runs, ".out");
  const std::string err_path = absl::StrCat(dir, "/run-", runs, ".err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> c_argv;
  for (const std::string& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ToolRun run;
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(spawned);
    return run;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadWhole(out_path);
  run.err = ReadWhole(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return run;
}

// What importing one record of a feed file should do, worked out here from
// the file: FromReso as the tool maps it, and the one service rule the
// generator's records break (a negative ListPrice).
struct Expected {
  int64_t record = 0;
  std::string listing_id;  // as the failure names it: the record's ListingId
  bool fails = false;
  std::string field;  // of the failure
  pv1::Property listing;
};

std::vector<Expected> ExpectedOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<Expected> out;
  absl::Status read =
      FeedReader::Read(in, FeedFormat::kAuto, [&](absl::StatusOr<json> record, int64_t index) {
        Expected e;
        e.record = index;
        EXPECT_EQ(index, static_cast<int64_t>(out.size()));
        if (!record.ok()) {
          ADD_FAILURE() << "record " << index << ": " << record.status();
          return false;
        }
        if (auto it = record->find("ListingId"); it != record->end() && it->is_string()) {
          e.listing_id = it->get<std::string>();
        }
        absl::StatusOr<pv1::Property> listing = FromReso(*record);
        if (!listing.ok()) {
          e.fails = true;
          std::optional<FieldViolation> violation = FieldViolationOf(listing.status());
          e.field = violation.has_value() ? violation->field : "";
        } else if (listing->price_cents() < 0) {
          e.fails = true;
          e.field = "price_cents";
        } else {
          e.listing = *std::move(listing);
        }
        out.push_back(std::move(e));
        return true;
      });
  EXPECT_TRUE(read.ok()) << read;
  return out;
}

class ImportListingsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = PgCluster::Create();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster).release();
    auto properties_dsn = cluster_->CreateServiceDatabase("crm_properties");
    ASSERT_TRUE(properties_dsn.ok()) << properties_dsn.status();
    auto auth_dsn = cluster_->CreateServiceDatabase("crm_auth");
    ASSERT_TRUE(auth_dsn.ok()) << auth_dsn.status();
    dsn_ = new std::string(*properties_dsn);
    dir_ = new std::string(absl::StrCat(std::filesystem::temp_directory_path().string(),
                                        "/crm-import-listings-e2e-", getpid()));
    std::filesystem::create_directories(*dir_);
    auto auth = TestAuth::Start(*auth_dsn, *dir_, {{"properties", kPropertiesSecret}});
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::move(*auth).release();
    // The relay's audit address is a port nobody serves: events stay in the
    // outbox, which these tests do not read.
    auto properties = ServiceProcess::Start(
        "properties", {"--dsn=" + *dsn_, "--auth_address=" + auth_->process().address(),
                       "--service_account_secret_file=" + auth_->ServiceSecretFile("properties"),
                       absl::StrCat("--audit_address=127.0.0.1:", crm::testing::FreePort())});
    ASSERT_TRUE(properties.ok()) << properties.status();
    properties_ = std::move(*properties).release();
    stub_ = pv1::PropertyService::NewStub(properties_->channel()).release();
  }

  static void TearDownTestSuite() {
    delete stub_;
    stub_ = nullptr;
    delete properties_;  // stops it by pid
    properties_ = nullptr;
    delete auth_;
    auth_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
    if (dir_ != nullptr) {
      std::filesystem::remove_all(*dir_);
    }
    delete dir_;
    dir_ = nullptr;
    delete dsn_;
    dsn_ = nullptr;
  }

  void SetUp() override {
    if (stub_ == nullptr) {
      FAIL() << "the cluster, crm-auth or crm-properties did not start";
    }
  }

  static std::string Path(const std::string& name) { return absl::StrCat(*dir_, "/", name); }

  static std::string AdminPasswordFile() { return Path("admin_password"); }  // TestAuth's

  // crm-import-listings signed in as `email`, then `flags`, then `file`.
  static ToolRun Import(const std::string& file, const std::vector<std::string>& flags,
                        const std::string& email = TestAuth::kAdminEmail,
                        const std::string& password_file = AdminPasswordFile()) {
    std::vector<std::string> argv = {
        absl::StrCat(CRM_BIN_DIR, "/crm-import-listings"), "--target=" + properties_->address(),
        "--auth_address=" + auth_->process().address(), "--login_email=" + email,
        "--login_password_file=" + password_file};
    argv.insert(argv.end(), flags.begin(), flags.end());
    if (!file.empty()) {
      argv.push_back(file);
    }
    return RunTool(argv, *dir_);
  }

  // The import as a script runs it: --json, no progress display.
  static ToolRun ImportJson(const std::string& file, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--json", "--progress=none"});
    return Import(file, flags);
  }

  // The one JSON line on stdout.
  static json Result(const ToolRun& run) {
    EXPECT_THAT(run.out, EndsWith("\n"));
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;
    json result = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(result.is_object()) << run.out << run.err;
    return result.is_object() ? result : json::object();
  }

  // crm-reso-feed --out=`path` `flags`.
  static void WriteFeed(const std::string& path, const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {absl::StrCat(CRM_BIN_DIR, "/crm-reso-feed"), "--out=" + path};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<crm::testing::CommandResult> run = crm::testing::RunCommand(argv);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_EQ(run->exit_code, 0) << run->output;
  }

  static void WriteText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
  }

  static TestUser Agent(const std::string& name) {
    absl::StatusOr<TestUser> user = auth_->CreateUser(name, av1::ROLE_AGENT);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? *user : TestUser{};
  }

  static grpc::Status GetByMls(const std::string& mls_id, pv1::Property* out) {
    pv1::GetPropertyRequest request;
    request.set_mls_id(mls_id);
    pv1::GetPropertyResponse response;
    grpc::Status status = stub_->GetProperty(crm::testing::CallContext(auth_->admin().token).get(),
                                             request, &response);
    *out = response.property();
    return status;
  }

  // Every listing of `agent_id` through ListProperties, page by page.
  static std::vector<pv1::Property> ListingsOf(int64_t agent_id) {
    pv1::ListPropertiesRequest request;
    request.set_agent_id(agent_id);
    request.set_page_size(1000);
    std::vector<pv1::Property> out;
    for (int pages = 0; pages < 100; ++pages) {
      pv1::ListPropertiesResponse response;
      grpc::Status status = stub_->ListProperties(
          crm::testing::CallContext(auth_->admin().token).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      out.insert(out.end(), response.properties().begin(), response.properties().end());
      if (!status.ok() || response.next_page_token().empty()) {
        break;
      }
      request.set_page_token(response.next_page_token());
    }
    return out;
  }

  struct Stored {
    int64_t agent_id = 0;
    int64_t price_cents = 0;
    std::string status;
    int64_t version = 0;
  };

  // The stored listings whose mls_id starts with `prefix`, by mls_id.
  static std::map<std::string, Stored> StoredWithPrefix(const std::string& prefix) {
    pqxx::connection conn(*dsn_);
    pqxx::nontransaction tx(conn);
    std::map<std::string, Stored> out;
    for (const auto& row : tx.exec_params(
             "SELECT mls_id, coalesce(agent_id, 0), (price * 100)::int8, status, version "
             "FROM properties WHERE starts_with(mls_id, $1) AND deleted_at IS NULL",
             prefix)) {
      out[row[0].as<std::string>()] = {.agent_id = row[1].as<int64_t>(),
                                       .price_cents = row[2].as<int64_t>(),
                                       .status = row[3].as<std::string>(),
                                       .version = row[4].as<int64_t>()};
    }
    return out;
  }

  // "ACTIVE_UNDER_CONTRACT" for PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT: as
  // the service stores it.
  static std::string StoredStatus(pv1::PropertyStatus status) {
    std::string name = pv1::PropertyStatus_Name(status);
    return name.substr(std::string("PROPERTY_STATUS_").size());
  }

  // The failures `result` reports, against those `expected` predicts, in
  // file order; the first `limit` of them when there are more.
  static void ExpectFailures(const json& result, const std::vector<Expected>& expected,
                             size_t limit = 100) {
    std::vector<const Expected*> failing;
    for (const Expected& e : expected) {
      if (e.fails) {
        failing.push_back(&e);
      }
    }
    EXPECT_EQ(result.value("failed", -1), static_cast<int64_t>(failing.size()));
    const json failures = result.value("failures", json());
    ASSERT_TRUE(failures.is_array()) << result.dump();
    ASSERT_EQ(failures.size(), std::min(failing.size(), limit));
    EXPECT_EQ(result.value("failures_truncated", false), failing.size() > limit);
    for (size_t k = 0; k < failures.size(); ++k) {
      const json& f = failures[k];
      const Expected& e = *failing[k];
      EXPECT_EQ(f.value("record", int64_t{-1}), e.record) << f.dump();
      EXPECT_EQ(f.value("listing_id", "?"), e.listing_id) << f.dump();
      EXPECT_EQ(f.value("field", "?"), e.field) << f.dump();
      EXPECT_FALSE(f.value("message", "").empty()) << f.dump();
    }
  }

  static PgCluster* cluster_;
  static TestAuth* auth_;
  static ServiceProcess* properties_;
  static pv1::PropertyService::Stub* stub_;
  static std::string* dsn_;
  static std::string* dir_;
};

PgCluster* ImportListingsTest::cluster_ = nullptr;
TestAuth* ImportListingsTest::auth_ = nullptr;
ServiceProcess* ImportListingsTest::properties_ = nullptr;
pv1::PropertyService::Stub* ImportListingsTest::stub_ = nullptr;
std::string* ImportListingsTest::dsn_ = nullptr;
std::string* ImportListingsTest::dir_ = nullptr;

TEST_F(ImportListingsTest, WebApiFeedSetsAgentsByEmailAndImportingItAgainChangesNothing) {
  const TestUser ana = Agent("ana.webapi");
  const TestUser ben = Agent("ben.webapi");
  const std::string feed = Path("webapi.json");
  // Ben's address as his MLS spells it: emails match whatever their case.
  const std::vector<std::string> emails = {"ana.webapi@crm.local", "Ben.WebAPI@CRM.local",
                                           "nobody@elsewhere.test"};
  WriteFeed(feed, {"--count=2000", "--seed=11", "--format=webapi", "--listing_id_prefix=WA",
                   "--originating_system=Web API Test MLS",
                   "--agent_emails=" + absl::StrJoin(emails, ",")});
  const std::vector<Expected> expected = ExpectedOf(feed);
  ASSERT_EQ(expected.size(), 2000u);
  // Round-robin over the three emails.
  const std::vector<int64_t> agent_of = {ana.id, ben.id, 0};
  std::vector<int64_t> per_email(3, 0);
  for (const Expected& e : expected) {
    ASSERT_FALSE(e.fails) << e.record;
    ++per_email[e.record % 3];
  }

  const ToolRun first = ImportJson(feed);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(first.err, "");
  const json result = Result(first);
  EXPECT_EQ(result.value("file", ""), feed);
  EXPECT_EQ(result.value("records", -1), 2000);
  EXPECT_EQ(result.value("created", -1), 2000);
  EXPECT_EQ(result.value("updated", -1), 0);
  EXPECT_EQ(result.value("unchanged", -1), 0);
  EXPECT_EQ(result.value("failed", -1), 0);
  EXPECT_EQ(result.value("failures", json()), json::array());
  EXPECT_EQ(result.value("failures_truncated", true), false);
  EXPECT_EQ(result.value("agent_emails_unmatched", -1), per_email[2]);
  EXPECT_GT(result.value("seconds", 0.0), 0);
  EXPECT_GT(result.value("records_per_second", 0.0), 0);
  EXPECT_GT(result.value("max_rss_kb", 0), 0);

  // Each listing as its record says, its agent by its email; the unknown
  // email's listings have none.
  const std::map<std::string, Stored> stored = StoredWithPrefix("WA");
  ASSERT_EQ(stored.size(), 2000u);
  for (const Expected& e : expected) {
    auto it = stored.find(e.listing.mls_id());
    ASSERT_NE(it, stored.end()) << e.listing.mls_id();
    EXPECT_EQ(it->second.agent_id, agent_of[e.record % 3]) << e.listing.mls_id();
    EXPECT_EQ(it->second.price_cents, e.listing.price_cents()) << e.listing.mls_id();
    EXPECT_EQ(it->second.status, StoredStatus(e.listing.status())) << e.listing.mls_id();
  }
  // The same through the API: the agent filter finds each agent's share.
  EXPECT_EQ(static_cast<int64_t>(ListingsOf(ana.id).size()), per_email[0]);
  EXPECT_EQ(static_cast<int64_t>(ListingsOf(ben.id).size()), per_email[1]);
  pv1::Property sample;
  ASSERT_TRUE(GetByMls(expected[4].listing.mls_id(), &sample).ok());
  EXPECT_EQ(sample.agent_id(), ben.id);
  EXPECT_EQ(sample.listing_key(), expected[4].listing.listing_key());
  EXPECT_EQ(sample.originating_system_name(), "Web API Test MLS");
  EXPECT_EQ(sample.address().city(), expected[4].listing.address().city());

  // The same file again: every listing already says what it says.
  const ToolRun second = ImportJson(feed);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  const json again = Result(second);
  EXPECT_EQ(again.value("records", -1), 2000);
  EXPECT_EQ(again.value("created", -1), 0);
  EXPECT_EQ(again.value("updated", -1), 0);
  EXPECT_EQ(again.value("unchanged", -1), 2000);
  EXPECT_EQ(again.value("failed", -1), 0);
  EXPECT_EQ(again.value("agent_emails_unmatched", -1), per_email[2]);
  for (const auto& [mls_id, listing] : StoredWithPrefix("WA")) {
    EXPECT_EQ(listing.version, 1) << mls_id;
  }
}

TEST_F(ImportListingsTest, NdjsonFeedsBadRecordsFailAtTheirFilePositions) {
  const std::string feed = Path("bad.ndjson");
  WriteFeed(feed, {"--count=600", "--seed=21", "--format=ndjson", "--bad_fraction=0.1",
                   "--listing_id_prefix=ND", "--originating_system=NDJSON Test MLS"});
  const std::vector<Expected> expected = ExpectedOf(feed);
  ASSERT_EQ(expected.size(), 600u);
  // Some of each defect, failing here (no ListingId, an unknown status) and
  // in the service (a negative price).
  std::map<std::string, int> by_field;
  std::set<std::string> good;
  for (const Expected& e : expected) {
    if (e.fails) {
      ++by_field[e.field];
    } else {
      good.insert(e.listing.mls_id());
    }
  }
  EXPECT_GT(by_field["ListingId"], 0);
  EXPECT_GT(by_field["StandardStatus"], 0);
  EXPECT_GT(by_field["price_cents"], 0);
  ASSERT_EQ(by_field.size(), 3u);
  ASSERT_LT(600 - good.size(), 100u);  // every failure listed

  // Small batches: failures in many messages, positions shifted by the
  // records that never reached the stream.
  const ToolRun run = ImportJson(feed, {"--batch=50"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const json result = Result(run);
  EXPECT_EQ(result.value("records", -1), 600);
  EXPECT_EQ(result.value("created", -1), static_cast<int64_t>(good.size()));
  EXPECT_EQ(result.value("updated", -1), 0);
  EXPECT_EQ(result.value("unchanged", -1), 0);
  ExpectFailures(result, expected);
  for (const json& f : result.value("failures", json::array())) {
    if (f.value("field", "") == "price_cents") {
      EXPECT_THAT(f.value("message", ""), HasSubstr("must be between 0 and")) << f.dump();
    }
  }
  std::set<std::string> imported;
  for (const auto& [mls_id, listing] : StoredWithPrefix("ND")) {
    imported.insert(mls_id);
  }
  EXPECT_EQ(imported, good);
}

TEST_F(ImportListingsTest, MoreFailuresThanKeptListsTheFirstHundredInFileOrder) {
  const std::string feed = Path("mostly-bad.json");
  WriteFeed(feed, {"--count=400", "--seed=22", "--format=webapi", "--bad_fraction=0.6",
                   "--listing_id_prefix=TR", "--originating_system=Truncation Test MLS"});
  const std::vector<Expected> expected = ExpectedOf(feed);
  int64_t bad = 0;
  int64_t bad_in_service = 0;
  for (const Expected& e : expected) {
    bad += e.fails ? 1 : 0;
    bad_in_service += e.field == "price_cents" ? 1 : 0;
  }
  ASSERT_GT(bad, 100);
  ASSERT_GT(bad_in_service, 0);
  const ToolRun run = ImportJson(feed, {"--batch=64"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const json result = Result(run);
  EXPECT_EQ(result.value("created", -1), 400 - bad);
  ExpectFailures(result, expected);
  EXPECT_EQ(result.value("failures_truncated", false), true);
}

TEST_F(ImportListingsTest, EveryStandardStatusAndDecimalPricesToTheCent) {
  // As an MLS's Web API sends them: display values, prices as JSON decimal
  // numbers (one as a string), optional fields absent or null.
  const std::string feed = Path("statuses.json");
  WriteText(feed, R"({"@odata.context": "https://mls.example/odata/$metadata#Property",
"value": [
 {"ListingKey": "k-hw-01", "OriginatingSystemName": "Hand MLS", "ListingId": "HW-01",
  "StandardStatus": "Active", "MlsStatus": "A", "PropertyType": "Residential",
  "ListPrice": 525000.00, "UnparsedAddress": "12 Maple St, Springfield, IL 62701",
  "UnitNumber": "4B", "City": "Springfield", "StateOrProvince": "IL", "PostalCode": "62701",
  "BedroomsTotal": 3, "BathroomsFull": 2, "BathroomsHalf": 1, "LivingArea": 1850.00,
  "LotSizeSquareFeet": 6534.00, "YearBuilt": 1998, "PublicRemarks": "Sunny corner lot.",
  "ListingContractDate": "2026-02-27", "OnMarketDate": "2026-03-01",
  "Latitude": 39.781721, "Longitude": -89.650148,
  "ModificationTimestamp": "2026-03-01T14:05:00Z"},
 {"ListingId": "HW-02", "StandardStatus": "Active Under Contract", "ListPrice": 19999999.99,
  "StreetNumber": "400", "StreetDirPrefix": "N", "StreetName": "Lake Shore", "StreetSuffix": "Dr",
  "City": "Chicago"},
 {"ListingId": "HW-03", "StandardStatus": "Coming Soon", "ListPrice": 0.29,
  "UnparsedAddress": "3 Elm Ct", "City": "Peoria"},
 {"ListingId": "HW-04", "StandardStatus": "Pending", "ListPrice": 349999.9,
  "UnparsedAddress": "4 Oak Ave", "City": "Peoria"},
 {"ListingId": "HW-05", "StandardStatus": "Closed", "ListPrice": 410000,
  "ClosePrice": 402500.50, "CloseDate": "2026-03-02",
  "UnparsedAddress": "5 Pine Rd", "City": "Peoria"},
 {"ListingId": "HW-06", "StandardStatus": "Canceled", "ListPrice": "1250.00",
  "UnparsedAddress": "6 Birch Ln", "City": "Peoria"},
 {"ListingId": "HW-07", "StandardStatus": "Expired", "ListPrice": 0,
  "UnparsedAddress": "7 Cedar Way", "City": "Peoria"},
 {"ListingId": "HW-08", "StandardStatus": "Withdrawn", "ListPrice": 1.10,
  "UnparsedAddress": "8 Ash Pl", "City": "Peoria"},
 {"ListingId": "HW-09", "StandardStatus": "Hold", "ListPrice": 999999999999.99,
  "UnparsedAddress": "9 Spruce St", "City": "Peoria"},
 {"ListingId": "HW-10", "StandardStatus": "Incomplete", "ListPrice": 12.3,
  "UnparsedAddress": "10 Walnut St", "City": "Peoria", "BedroomsTotal": null,
  "Latitude": null, "Longitude": null, "PublicRemarks": null, "ListingContractDate": null,
  "ModificationTimestamp": null, "ListingKey": null, "OriginatingSystemName": null}
]}
)");
  const ToolRun run = ImportJson(feed);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json result = Result(run);
  EXPECT_EQ(result.value("records", -1), 10);
  EXPECT_EQ(result.value("created", -1), 10);
  EXPECT_EQ(result.value("failed", -1), 0);
  EXPECT_EQ(result.value("agent_emails_unmatched", -1), 0);  // no ListAgentEmail at all

  struct Case {
    std::string mls_id;
    pv1::PropertyStatus status;
    int64_t price_cents;
  };
  const std::vector<Case> cases = {
      {"HW-01", pv1::PROPERTY_STATUS_ACTIVE, 52'500'000},
      {"HW-02", pv1::PROPERTY_STATUS_ACTIVE_UNDER_CONTRACT, 1'999'999'999},
      {"HW-03", pv1::PROPERTY_STATUS_COMING_SOON, 29},
      {"HW-04", pv1::PROPERTY_STATUS_PENDING, 34'999'990},
      {"HW-05", pv1::PROPERTY_STATUS_CLOSED, 41'000'000},
      {"HW-06", pv1::PROPERTY_STATUS_CANCELED, 125'000},
      {"HW-07", pv1::PROPERTY_STATUS_EXPIRED, 0},
      {"HW-08", pv1::PROPERTY_STATUS_WITHDRAWN, 110},
      {"HW-09", pv1::PROPERTY_STATUS_HOLD, 99'999'999'999'999},
      {"HW-10", pv1::PROPERTY_STATUS_INCOMPLETE, 1'230},
  };
  std::map<std::string, pv1::Property> got;
  for (const Case& c : cases) {
    pv1::Property p;
    grpc::Status status = GetByMls(c.mls_id, &p);
    ASSERT_TRUE(status.ok()) << c.mls_id << ": " << status.error_message();
    EXPECT_EQ(p.status(), c.status) << c.mls_id;
    EXPECT_EQ(p.price_cents(), c.price_cents) << c.mls_id;
    EXPECT_EQ(p.agent_id(), 0) << c.mls_id;
    got[c.mls_id] = p;
  }
  // The stored decimal, not only what the API answers.
  const std::map<std::string, Stored> stored = StoredWithPrefix("HW-");
  EXPECT_EQ(stored.at("HW-02").price_cents, 1'999'999'999);
  EXPECT_EQ(stored.at("HW-03").price_cents, 29);
  EXPECT_EQ(stored.at("HW-09").price_cents, 99'999'999'999'999);

  // The full record: every field it gives.
  const pv1::Property& full = got["HW-01"];
  EXPECT_EQ(full.listing_key(), "k-hw-01");
  EXPECT_EQ(full.originating_system_name(), "Hand MLS");
  EXPECT_EQ(full.mls_status(), "A");
  EXPECT_EQ(full.property_type(), pv1::PROPERTY_TYPE_RESIDENTIAL);
  EXPECT_EQ(full.address().street(), "12 Maple St");
  EXPECT_EQ(full.address().unit(), "4B");
  EXPECT_EQ(full.address().city(), "Springfield");
  EXPECT_EQ(full.address().state_or_province(), "IL");
  EXPECT_EQ(full.address().postal_code(), "62701");
  EXPECT_EQ(full.bedrooms(), 3);
  EXPECT_EQ(full.bathrooms_full(), 2);
  EXPECT_EQ(full.bathrooms_half(), 1);
  EXPECT_EQ(full.living_area_sqft(), 1850);
  EXPECT_EQ(full.lot_size_sqft(), 6534);
  EXPECT_EQ(full.year_built(), 1998);
  EXPECT_EQ(full.description(), "Sunny corner lot.");
  EXPECT_EQ(full.list_date(), "2026-02-27");
  EXPECT_EQ(full.on_market_date(), "2026-03-01");
  ASSERT_TRUE(full.has_latitude());
  ASSERT_TRUE(full.has_longitude());
  EXPECT_DOUBLE_EQ(full.latitude(), 39.781721);
  EXPECT_DOUBLE_EQ(full.longitude(), -89.650148);
  ASSERT_TRUE(full.has_modification_timestamp());
  EXPECT_EQ(full.modification_timestamp().seconds(), 1'772'373'900);  // 2026-03-01T14:05:00Z
  // The street from its parts; the sale's price and date.
  EXPECT_EQ(got["HW-02"].address().street(), "400 N Lake Shore Dr");
  EXPECT_EQ(got["HW-05"].close_price_cents(), 40'250'050);
  EXPECT_EQ(got["HW-05"].close_date(), "2026-03-02");

  // Absent or null: unset, never zero coordinates or an empty timestamp.
  for (const char* mls_id : {"HW-03", "HW-10"}) {
    const pv1::Property& p = got[mls_id];
    EXPECT_FALSE(p.has_latitude()) << mls_id;
    EXPECT_FALSE(p.has_longitude()) << mls_id;
    EXPECT_FALSE(p.has_modification_timestamp()) << mls_id;
    EXPECT_EQ(p.listing_key(), "") << mls_id;
    EXPECT_EQ(p.originating_system_name(), "") << mls_id;
    EXPECT_EQ(p.property_type(), pv1::PROPERTY_TYPE_UNSPECIFIED) << mls_id;
    EXPECT_EQ(p.bedrooms(), 0) << mls_id;
    EXPECT_EQ(p.living_area_sqft(), 0) << mls_id;
    EXPECT_EQ(p.year_built(), 0) << mls_id;
    EXPECT_EQ(p.description(), "") << mls_id;
    EXPECT_EQ(p.list_date(), "") << mls_id;
    EXPECT_EQ(p.close_price_cents(), 0) << mls_id;
    EXPECT_EQ(p.close_date(), "") << mls_id;
    EXPECT_EQ(p.mls_status(), "") << mls_id;
    EXPECT_EQ(p.address().unit(), "") << mls_id;
    EXPECT_EQ(p.address().country(), "US") << mls_id;  // the service's default
  }

  // Again: nothing to change, so the prices went there and back exactly.
  const ToolRun again = ImportJson(feed);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Result(again).value("unchanged", -1), 10);
}

TEST_F(ImportListingsTest, RecordsTheServiceRefusesAreReportedByFilePosition) {
  // Records 3 and 5 pass the mapping and fail in the service; record 1 fails
  // here and never reaches the stream, so the service's row numbers are one
  // behind the file's from then on. Two records a message: the failures fall
  // in different messages.
  const std::string long_id = "MF-" + std::string(48, '9');  // 51 characters
  const std::string feed = Path("service-failures.json");
  const auto record = [](const std::string& id, const std::string& status,
                         const std::string& price) {
    return absl::StrCat(R"({"ListingId": ")", id, R"(", "StandardStatus": ")", status,
                        R"(", "ListPrice": )", price,
                        R"(, "UnparsedAddress": "1 Main St", "City": "Springfield"})");
  };
  WriteText(feed, absl::StrCat(R"({"value": [)", "\n",
                               absl::StrJoin(
                                   {
                                       record("MF-0", "Active", "100000.00"),
                                       record("MF-1", "Sold", "100000.00"),
                                       record("MF-2", "Pending", "200000.00"),
                                       record(long_id, "Active", "300000.00"),
                                       record("MF-4", "Closed", "400000.00"),
                                       record("MF-5", "Active", "-1.00"),
                                       record("MF-6", "Hold", "600000.00"),
                                   },
                                   ",\n"),
                               "]}\n"));
  const ToolRun run = ImportJson(feed, {"--batch=2"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const json result = Result(run);
  EXPECT_EQ(result.value("records", -1), 7);
  EXPECT_EQ(result.value("created", -1), 4);
  EXPECT_EQ(result.value("failed", -1), 3);
  const json failures = result.value("failures", json::array());
  ASSERT_EQ(failures.size(), 3u) << result.dump();
  EXPECT_EQ(failures[0].value("record", -1), 1);
  EXPECT_EQ(failures[0].value("listing_id", ""), "MF-1");
  EXPECT_EQ(failures[0].value("field", ""), "StandardStatus");
  EXPECT_THAT(failures[0].value("message", ""), HasSubstr("\"Sold\""));
  EXPECT_EQ(failures[1].value("record", -1), 3);
  EXPECT_EQ(failures[1].value("listing_id", ""), long_id);
  EXPECT_EQ(failures[1].value("field", ""), "mls_id");
  EXPECT_THAT(failures[1].value("message", ""), HasSubstr("50"));
  EXPECT_EQ(failures[2].value("record", -1), 5);
  EXPECT_EQ(failures[2].value("listing_id", ""), "MF-5");
  EXPECT_EQ(failures[2].value("field", ""), "price_cents");
  EXPECT_FALSE(failures[2].value("message", "").empty());
  for (const char* mls_id : {"MF-0", "MF-2", "MF-4", "MF-6"}) {
    pv1::Property p;
    EXPECT_TRUE(GetByMls(mls_id, &p).ok()) << mls_id;
  }
  EXPECT_EQ(StoredWithPrefix("MF-").size(), 4u);

  // The table a person reads says the same.
  const ToolRun table = Import(feed, {"--batch=2", "--progress=none"});
  EXPECT_EQ(table.exit_code, 1) << table.out << table.err;
  EXPECT_THAT(table.out, StartsWith(absl::StrCat("imported 7 records from ", feed, " in ")));
  EXPECT_THAT(table.out, ContainsRegex("\n  created +0\n"));
  EXPECT_THAT(table.out, ContainsRegex("\n  unchanged +4\n"));
  EXPECT_THAT(table.out, ContainsRegex("\n  failed +3\n"));
  EXPECT_THAT(table.out, HasSubstr("failed records (0-based position in the file):\n"
                                   "  record 1 (ListingId MF-1): StandardStatus: "));
  EXPECT_THAT(table.out,
              HasSubstr(absl::StrCat("\n  record 3 (ListingId ", long_id, "): mls_id: ")));
  EXPECT_THAT(table.out, HasSubstr("\n  record 5 (ListingId MF-5): price_cents: "));
}

TEST_F(ImportListingsTest, ProgressGoesToStderrAsAskedAndNeverToStdout) {
  const std::string feed = Path("progress.json");
  WriteFeed(feed, {"--count=300", "--seed=31", "--listing_id_prefix=PG",
                   "--originating_system=Progress Test MLS"});

  const ToolRun lines = Import(feed, {"--json", "--progress=lines"});
  ASSERT_EQ(lines.exit_code, 0) << lines.out << lines.err;
  EXPECT_EQ(Result(lines).value("created", -1), 300);
  ASSERT_THAT(lines.err, EndsWith("\n"));
  const std::vector<std::string> progress = absl::StrSplit(lines.err, '\n', absl::SkipEmpty());
  ASSERT_FALSE(progress.empty());
  for (const std::string& line : progress) {
    EXPECT_THAT(line, StartsWith("import: ")) << lines.err;
  }
  EXPECT_THAT(progress.back(), StartsWith("import: 100% 300 records, "));
  EXPECT_THAT(lines.err, Not(HasSubstr("\r")));

  // A bar when asked for one, even on a file: frames redrawn with '\r', the
  // line ended once at the end.
  const ToolRun bar = Import(feed, {"--json", "--progress=bar"});
  ASSERT_EQ(bar.exit_code, 0) << bar.out << bar.err;
  EXPECT_EQ(Result(bar).value("unchanged", -1), 300);
  EXPECT_THAT(bar.err, StartsWith("\r"));
  EXPECT_THAT(bar.err, EndsWith("\n"));
  EXPECT_EQ(std::count(bar.err.begin(), bar.err.end(), '\n'), 1);
  EXPECT_THAT(bar.err.substr(bar.err.rfind('\r') + 1),
              StartsWith("[########################] 100% 300 records, "));

  // auto on a file (no terminal): lines.
  const ToolRun automatic = Import(feed, {"--json"});
  ASSERT_EQ(automatic.exit_code, 0) << automatic.out << automatic.err;
  EXPECT_THAT(automatic.err, StartsWith("import: "));

  const ToolRun none = Import(feed, {"--json", "--progress=none"});
  ASSERT_EQ(none.exit_code, 0) << none.out << none.err;
  EXPECT_EQ(none.err, "");
  EXPECT_EQ(Result(none).value("unchanged", -1), 300);
}

TEST_F(ImportListingsTest, UsageErrorsExitTwoAndFailedImportsThree) {
  const std::string feed = Path("usage.json");
  WriteFeed(feed, {"--count=3", "--seed=41", "--listing_id_prefix=US",
                   "--originating_system=Usage Test MLS"});
  const auto expect_usage = [](const ToolRun& run, const std::string& message) {
    EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
    EXPECT_THAT(run.err, HasSubstr(message)) << run.err;
    EXPECT_EQ(run.out, "");
  };
  expect_usage(ImportJson(""), "give exactly one feed file");
  expect_usage(ImportJson(feed, {feed}), "give exactly one feed file");
  expect_usage(ImportJson(Path("no-such-feed.json")), "cannot be opened");
  expect_usage(ImportJson(feed, {"--batch=0"}), "--batch");
  expect_usage(ImportJson(feed, {"--batch=1001"}), "--batch");
  expect_usage(ImportJson(feed, {"--format=xml"}), "--format");
  expect_usage(ImportJson(feed, {"--progress=sideways"}), "--progress");
  expect_usage(ImportJson(feed, {"--timeout=0s"}), "--timeout");
  expect_usage(ImportJson("-"), "--format");  // standard input names its format
  expect_usage(Import(feed, {"--json"}, ""), "--login_email");
  expect_usage(Import(feed, {"--json"}, TestAuth::kAdminEmail, ""), "--login_password_file");
  // Nothing was imported by any of them.
  EXPECT_THAT(StoredWithPrefix("US"), IsEmpty());

  // The wrong password: signing in fails.
  const std::string wrong = Path("wrong_password");
  WriteText(wrong, "not-the-admin-password\n");
  const ToolRun refused = Import(feed, {"--json"}, TestAuth::kAdminEmail, wrong);
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("sign-in as admin@crm.local failed"));
  EXPECT_EQ(refused.out, "");

  // An agent signs in but may not import.
  Agent("cat.usage");
  const std::string agent_password = Path("agent_password");
  WriteText(agent_password, TestAuth::kUserPassword);
  const ToolRun agent =
      Import(feed, {"--json", "--resolve_agents=false"}, "cat.usage@crm.local", agent_password);
  EXPECT_EQ(agent.exit_code, 3) << agent.out << agent.err;
  EXPECT_THAT(agent.err, HasSubstr("ImportProperties failed"));

  // No properties service there.
  const ToolRun unreachable =
      ImportJson(feed, {absl::StrCat("--target=127.0.0.1:", crm::testing::FreePort())});
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.out << unreachable.err;
  EXPECT_THAT(unreachable.err, HasSubstr("ImportProperties failed"));

  // A payload cut short: the stream cannot go on past it.
  const std::string cut = Path("cut.json");
  WriteText(cut, R"({"value": [{"ListingId": "US-CUT", "StandardStatus": "Act)");
  const ToolRun malformed = ImportJson(cut);
  EXPECT_EQ(malformed.exit_code, 3) << malformed.out << malformed.err;
  EXPECT_THAT(malformed.err, HasSubstr("not valid JSON at byte"));
  EXPECT_THAT(StoredWithPrefix("US"), IsEmpty());
}

// Disabled until the tool checks flag values itself, as crm-reso-feed does:
// absl's parser exits 1 on a value it cannot read, and 1 here means "some
// records failed".
TEST_F(ImportListingsTest, UnparsableFlagValuesExitTwo) {
  const std::string feed = Path("unparsable.json");
  WriteFeed(feed, {"--count=1", "--listing_id_prefix=UP", "--originating_system=Unparsable MLS"});
  for (const char* flag : {"--batch=abc", "--batch=", "--timeout=soon", "--no_such_flag"}) {
    const ToolRun run = ImportJson(feed, {flag});
    EXPECT_EQ(run.exit_code, 2) << flag << ": " << run.err;
    EXPECT_EQ(run.out, "") << flag;
  }
}

}  // namespace
}  // namespace crm::listings
