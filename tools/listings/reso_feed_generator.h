#pragma once

// Realistic RESO Web API Property records, made up but plausible: ~20 US
// cities with their states, ZIP codes and coordinates, RESO StandardStatus
// and PropertyType display values in market-like proportions, prices that
// fit the city and the house, and dates that follow a listing's life
// (contract, on market, pending, closed). For tests, benchmarks and demo
// data.
//
// Deterministic: record i depends only on (seed, i) and the options that
// name things (originating system, ListingId prefix, agents), never on the
// clock or on `count`, so writing the same feed twice gives the same bytes
// and importing it again changes nothing.
//
//   FeedOptions options;
//   options.count = 100000;
//   WriteFeed(options, file);

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace crm::listings {

struct FeedOptions {
  int64_t count = 100;
  uint64_t seed = 1;
  // The number in record 0's ListingId; record i has first + i.
  int64_t first = 1;
  // OriginatingSystemName; empty leaves it and ListingKey out (the service
  // takes them only together).
  std::string originating_system = "CRM Demo MLS";
  // ListingId is the prefix then the number, zero-padded to 7 digits:
  // "DM0000001".
  std::string listing_id_prefix = "DM";
  // ListAgentEmail, round-robin by record; empty: the field is absent.
  std::vector<std::string> agent_emails;
  // Newline-delimited JSON; else a RESO Web API payload
  // {"@odata.context": "...", "@odata.count": n, "value": [...]}.
  bool ndjson = false;
  // This share of the records (0..1) is invalid the way real feeds are: a
  // negative ListPrice, a StandardStatus the Data Dictionary does not have,
  // or no ListingId. The other fields of such a record stay as they were.
  double bad_fraction = 0;
  // The same listings as the feed would list them `revision` days after
  // the first (0): this share of them (0..1) has had its price cut that day,
  // with PriceChangeTimestamp and ModificationTimestamp to match. For
  // imports that update listings rather than create them.
  int revision = 0;
  double changed_fraction = 0.1;
};

// OK, or INVALID_ARGUMENT naming the option: a negative count or first, a
// ListingId that could pass 50 printable characters, a bad_fraction outside
// 0..1, an agent email that is not one.
absl::Status CheckFeedOptions(const FeedOptions& options);

// Record i (0-based) as FeedReader hands it: decimal numbers (prices,
// coordinates, lot sizes) as their text in json strings, so FromReso sees
// exactly what an import of the written feed sees.
nlohmann::json GenerateRecord(const FeedOptions& options, int64_t i);

// Record i as one line of JSON text (no newline), decimals written with
// their fixed number of places (ListPrice 525000.00, Latitude 39.781721).
void AppendRecordJson(const FeedOptions& options, int64_t i, std::string* out);

// The whole feed, a record at a time: memory stays constant whatever the
// count. The caller checks `out` for write errors.
void WriteFeed(const FeedOptions& options, std::ostream& out);

}  // namespace crm::listings
