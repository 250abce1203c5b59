#include "tools/listings/feed_reader.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <ios>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/listings/reso_feed_generator.h"

namespace crm::listings {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

struct Result {
  absl::Status status;
  std::vector<absl::StatusOr<json>> records;
  std::vector<int64_t> indexes;
  int64_t bytes_read = 0;
};

// Reads `text`, stopping after `stop_after` records when not negative.
Result ReadAll(const std::string& text, FeedFormat format, int stop_after = -1) {
  std::istringstream in(text);
  Result result;
  std::atomic<int64_t> bytes_read{0};
  result.status = FeedReader::Read(
      in, format,
      [&](absl::StatusOr<json> record, int64_t index) {
        result.records.push_back(std::move(record));
        result.indexes.push_back(index);
        return stop_after < 0 || static_cast<int>(result.records.size()) < stop_after;
      },
      &bytes_read);
  result.bytes_read = bytes_read.load();
  return result;
}

std::vector<int64_t> Range(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t k = 0; k < n; ++k) {
    out.push_back(k);
  }
  return out;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

constexpr char kPayload[] = R"json({
  "@odata.context": "https://api.example/odata/$metadata#Property",
  "@odata.count": 2,
  "@search.facets": {"City": [{"value": "Austin", "count": 2}]},
  "value": [
    {"ListingId": "A1", "ListPrice": 525000.00, "BedroomsTotal": 3, "Latitude": -89.650148,
     "Rooms": [{"RoomType": "Kitchen", "Dimensions": [12, 14.5]}, {"RoomType": "Den"}],
     "Media": {"Photos": [{"Order": 1, "Url": "https://x/1.jpg"}], "Count": 1},
     "Appliances": [], "Extra": {}, "Flag": true, "Nothing": null,
     "@odata.id": "https://api.example/odata/Property('A1')"
},
    {"ListingId": "A2", "ListPrice": 1200, "Big": 1e3}
  ],
  "@odata.nextLink": "https://api.example/odata/Property?$skip=2",
  "@odata.trailer": [1, 2, 3]
})json";

TEST(FeedReaderTest, WebApiPayloadWithOdataFieldsAroundValue) {
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(kPayload, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 2u);
    EXPECT_EQ(r.indexes, Range(2));
    ASSERT_TRUE(r.records[0].ok());
    const json& a1 = *r.records[0];
    EXPECT_EQ(a1["ListingId"], "A1");
    // Decimals as their text; integers as numbers.
    EXPECT_EQ(a1["ListPrice"], json("525000.00"));
    EXPECT_EQ(a1["Latitude"], json("-89.650148"));
    EXPECT_EQ(a1["BedroomsTotal"], json(3));
    EXPECT_EQ(a1["Rooms"], json::parse(R"([{"RoomType": "Kitchen", "Dimensions": [12, "14.5"]},
                                          {"RoomType": "Den"}])"));
    EXPECT_EQ(a1["Media"], json::parse(R"({"Photos": [{"Order": 1, "Url": "https://x/1.jpg"}],
                                          "Count": 1})"));
    EXPECT_EQ(a1["Appliances"], json::array());
    EXPECT_EQ(a1["Extra"], json::object());
    EXPECT_EQ(a1["Flag"], json(true));
    EXPECT_TRUE(a1["Nothing"].is_null());
    EXPECT_EQ(a1["@odata.id"], "https://api.example/odata/Property('A1')");
    EXPECT_EQ(a1.size(), 11u);
    ASSERT_TRUE(r.records[1].ok());
    EXPECT_EQ(*r.records[1], json::parse(R"({"ListingId": "A2", "ListPrice": 1200,
                                              "Big": "1e3"})"));
    EXPECT_EQ(r.bytes_read, static_cast<int64_t>(std::string(kPayload).size()));
  }
}

TEST(FeedReaderTest, WebApiPayloadOnOneLine) {
  const std::string text =
      R"({"@odata.context":"c","value":[{"ListingId":"A1"},{"ListingId":"A2"}],"@odata.count":2})";
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 2u);
    EXPECT_EQ((*r.records[1])["ListingId"], "A2");
  }
}

TEST(FeedReaderTest, EmptyValueAndMissingValue) {
  for (const char* text : {R"({"@odata.context":"c","value":[]})", "[]", R"({"@odata.count":0})"}) {
    Result r = ReadAll(text, FeedFormat::kWebApi);
    EXPECT_TRUE(r.status.ok()) << text << ": " << r.status;
    EXPECT_TRUE(r.records.empty()) << text;
  }
}

TEST(FeedReaderTest, BareArray) {
  const std::string text =
      "[\n  {\"ListingId\": \"A1\", \"Nested\": [[1], {\"a\": [2]}]},\n"
      "  {\"ListingId\": \"A2\"}, {\"ListingId\": \"A3\"}\n]\n";
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 3u);
    EXPECT_EQ(r.indexes, Range(3));
    EXPECT_EQ((*r.records[0])["Nested"], json::parse(R"([[1], {"a": [2]}])"));
    EXPECT_EQ((*r.records[2])["ListingId"], "A3");
    EXPECT_EQ(r.bytes_read, static_cast<int64_t>(text.size()));
  }
}

TEST(FeedReaderTest, NdjsonWithBlankAndMalformedLines) {
  const std::string text =
      "{\"ListingId\":\"A1\",\"ListPrice\":525000.00}\n"  // line 1
      "\n"                                                // 2
      "   \t\n"                                           // 3
      "{\"ListingId\": \n"                                // 4: cut short
      "{\"ListingId\":\"A3\",\"Rooms\":[{\"a\":1}]}\r\n"  // 5
      "[1, 2]\n"                                          // 6: not an object
      "{\"ListingId\":\"A5\"}";                           // 7: no final newline
  for (FeedFormat format : {FeedFormat::kNdjson, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 5u);
    EXPECT_EQ(r.indexes, Range(5));
    ASSERT_TRUE(r.records[0].ok());
    EXPECT_EQ(*r.records[0], json::parse(R"({"ListingId":"A1","ListPrice":"525000.00"})"));
    ASSERT_FALSE(r.records[1].ok());
    EXPECT_EQ(r.records[1].status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(r.records[1].status()), HasSubstr("line 4"));
    ASSERT_TRUE(r.records[2].ok());
    EXPECT_EQ((*r.records[2])["Rooms"], json::parse(R"([{"a":1}])"));
    ASSERT_FALSE(r.records[3].ok());
    EXPECT_THAT(Message(r.records[3].status()), HasSubstr("line 6"));
    ASSERT_TRUE(r.records[4].ok());
    EXPECT_EQ((*r.records[4])["ListingId"], "A5");
    EXPECT_EQ(r.bytes_read, static_cast<int64_t>(text.size()));
  }
}

TEST(FeedReaderTest, NdjsonRecordsMayHoldAnyField) {
  // A first line that is a record, not a payload, even with nested arrays.
  const std::string text =
      "{\"ListingId\":\"A1\",\"Rooms\":[{\"a\":[1]}]}\n{\"ListingId\":\"A2\"}\n";
  Result r = ReadAll(text, FeedFormat::kAuto);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 2u);
}

TEST(FeedReaderTest, MalformedPayloadNamesTheByte) {
  const std::string text = R"({"value":[{"ListingId":"A1"},{"ListingId": }]})";
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
    // The records before the fault were handed over.
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ((*r.records[0])["ListingId"], "A1");
    const size_t fault = text.find(": }") + 2;  // 0-based; the parser counts from 1
    EXPECT_THAT(Message(r.status), HasSubstr(absl::StrCat("at byte ", fault + 1)));
  }

  Result truncated = ReadAll(R"({"value":[{"ListingId":"A1"},{"Listi)", FeedFormat::kWebApi);
  EXPECT_EQ(truncated.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(truncated.status), HasSubstr("at byte "));
  EXPECT_EQ(truncated.records.size(), 1u);

  Result trailing = ReadAll("[{\"ListingId\":\"A1\"}] x", FeedFormat::kWebApi);
  EXPECT_EQ(trailing.status.code(), absl::StatusCode::kInvalidArgument);

  Result empty = ReadAll("", FeedFormat::kAuto);
  EXPECT_EQ(empty.status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(FeedReaderTest, FalseFromTheCallbackStops) {
  const std::string payload = R"({"value":[{"n":1},{"n":2},{"n":3},{"n":4}], "more": [)";
  Result r = ReadAll(payload, FeedFormat::kWebApi, /*stop_after=*/2);
  EXPECT_TRUE(r.status.ok()) << r.status;  // stopped before the broken tail
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ((*r.records[1])["n"], 2);

  const std::string ndjson = "{\"n\":1}\nnot json\n{\"n\":3}\n{\"n\":4}\n";
  r = ReadAll(ndjson, FeedFormat::kNdjson, /*stop_after=*/3);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.indexes, Range(3));
  EXPECT_FALSE(r.records[1].ok());

  // Stopping on a failed record.
  r = ReadAll(ndjson, FeedFormat::kNdjson, /*stop_after=*/2);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.records.size(), 2u);
}

// A stream that cannot seek, like a pipe.
class PipeBuf : public std::streambuf {
 public:
  explicit PipeBuf(std::string data) : data_(std::move(data)) {
    setg(data_.data(), data_.data(), data_.data() + data_.size());
  }

 private:
  std::string data_;
};

TEST(FeedReaderTest, AutoNeedsASeekableStreamButGivenFormatsDoNot) {
  const std::string text = "{\"n\":1}\n{\"n\":2}\n";
  PipeBuf auto_buf(text);
  std::istream auto_in(&auto_buf);
  int calls = 0;
  absl::Status status = FeedReader::Read(auto_in, FeedFormat::kAuto, [&](auto, int64_t) {
    ++calls;
    return true;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("--format"));

  PipeBuf ndjson_buf(text);
  std::istream ndjson_in(&ndjson_buf);
  calls = 0;
  status = FeedReader::Read(ndjson_in, FeedFormat::kNdjson, [&](auto, int64_t) {
    ++calls;
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 2);
}

TEST(FeedReaderTest, ParseFeedFormat) {
  EXPECT_EQ(*ParseFeedFormat("auto"), FeedFormat::kAuto);
  EXPECT_EQ(*ParseFeedFormat("webapi"), FeedFormat::kWebApi);
  EXPECT_EQ(*ParseFeedFormat("ndjson"), FeedFormat::kNdjson);
  absl::StatusOr<FeedFormat> bad = ParseFeedFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad.status()), HasSubstr("--format"));
}

TEST(FeedReaderTest, LargeGeneratedFeedRecordByRecord) {
  constexpr int64_t kCount = 20000;
  for (bool ndjson : {false, true}) {
    FeedOptions options;
    options.count = kCount;
    options.seed = 42;
    options.ndjson = ndjson;
    std::stringstream feed;
    WriteFeed(options, feed);
    const int64_t size = static_cast<int64_t>(feed.str().size());

    std::atomic<int64_t> bytes_read{0};
    int64_t seen = 0;
    int64_t failed = 0;
    std::vector<json> samples;
    absl::Status status = FeedReader::Read(
        feed, FeedFormat::kAuto,
        [&](absl::StatusOr<json> record, int64_t index) {
          EXPECT_EQ(index, seen);
          ++seen;
          if (!record.ok()) {
            ++failed;
            return true;
          }
          if (index == 0 || index == kCount / 2 || index == kCount - 1) {
            samples.push_back(*std::move(record));
          }
          return true;
        },
        &bytes_read);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(seen, kCount);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(bytes_read.load(), size);
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[0], GenerateRecord(options, 0));
    EXPECT_EQ(samples[1], GenerateRecord(options, kCount / 2));
    EXPECT_EQ(samples[2], GenerateRecord(options, kCount - 1));
  }
}

TEST(FeedReaderTest, OnlyValueHoldsRecords) {
  for (const char* text : {R"({"value":[{"n":1}],"@odata.annotations":[{"x":1},{"y":2}]})",
                           R"({"value":[{"n":1}],"meta":{"a":{"b":1}}})",
                           R"({"@odata.annotations":[{"x":1}],"value":[{"n":1}]})",
                           R"({"meta":{"value":[{"x":1}]},"value":[{"n":1}],"m":[[{"x":2}]]})",
                           R"({"value":[{"n":1,"value":[{"x":1}]}]})"}) {
    for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
      Result r = ReadAll(text, format);
      EXPECT_TRUE(r.status.ok()) << text << ": " << r.status;
      ASSERT_EQ(r.records.size(), 1u) << text;
      ASSERT_TRUE(r.records[0].ok()) << text;
      EXPECT_EQ((*r.records[0])["n"], 1) << text;
    }
  }
  // A "value" that is no array holds no records.
  Result r = ReadAll(R"({"value":{"a":{"b":1}},"v":[{"n":1}]})", FeedFormat::kWebApi);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.records.empty());
}

TEST(FeedReaderTest, NonObjectsInValueAreFailedRecordsInTheirPlace) {
  const std::string text =
      R"({"value":[{"n":1},5,"x",[1,{"y":2}],null,{"n":2},true,1.5,{}],"@odata.count":9})";
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 9u);
    EXPECT_EQ(r.indexes, Range(9));
    for (int64_t i : {0, 5, 8}) {
      EXPECT_TRUE(r.records[i].ok()) << i;
    }
    EXPECT_EQ(*r.records[5], json::parse(R"({"n":2})"));
    EXPECT_EQ(*r.records[8], json::object());
    for (int64_t i : {1, 2, 3, 4, 6, 7}) {
      ASSERT_FALSE(r.records[i].ok()) << i;
      EXPECT_EQ(r.records[i].status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(Message(r.records[i].status()), absl::StrCat("record ", i, ": not a JSON object"));
    }
  }

  Result bare = ReadAll(R"([[{"n":1}], {"n":2}, "x"])", FeedFormat::kAuto);
  ASSERT_TRUE(bare.status.ok()) << bare.status;
  ASSERT_EQ(bare.records.size(), 3u);
  EXPECT_EQ(bare.indexes, Range(3));
  EXPECT_FALSE(bare.records[0].ok());
  EXPECT_EQ((*bare.records[1])["n"], 2);
  EXPECT_EQ(Message(bare.records[2].status()), "record 2: not a JSON object");

  // False on a failed record stops the read there.
  Result stopped = ReadAll(text, FeedFormat::kWebApi, /*stop_after=*/2);
  EXPECT_TRUE(stopped.status.ok()) << stopped.status;
  EXPECT_EQ(stopped.records.size(), 2u);
}

TEST(FeedReaderTest, NdjsonTrailingContentFailsTheLine) {
  const std::string text = "{\"n\":1} x\n{\"n\":2} {\"n\":3}\n{\"n\":4}\n{\"n\":5}[]\n";
  for (FeedFormat format : {FeedFormat::kNdjson, FeedFormat::kAuto}) {
    Result r = ReadAll(text, format);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.records.size(), 4u);
    EXPECT_EQ(r.indexes, Range(4));
    for (int line : {1, 2, 4}) {
      const absl::StatusOr<json>& failed = r.records[line == 4 ? 3 : line - 1];
      ASSERT_FALSE(failed.ok()) << line;
      EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(Message(failed.status()),
                  HasSubstr(absl::StrCat("line ", line, ": text after the JSON object")));
    }
    ASSERT_TRUE(r.records[2].ok());
    EXPECT_EQ((*r.records[2])["n"], 4);
  }
}

// The cases format detection tells apart, each by what the read gives:
// record dumps, "error" for a failed record.
TEST(FeedReaderTest, AutoDetection) {
  const std::string bom = "\xEF\xBB\xBF";
  struct Case {
    const char* name;
    std::string text;
    std::vector<std::string> records;
  };
  const std::vector<Case> cases = {
      {"payload after blank lines",
       "\n\n \t\r\n{\"@odata.context\":\"c\",\"value\":[{\"n\":1},{\"n\":2}]}\n",
       {R"({"n":1})", R"({"n":2})"}},
      {"NDJSON after blank lines", "\n  \n{\"n\":1}\n{\"n\":2}\n", {R"({"n":1})", R"({"n":2})"}},
      {"payload after a BOM", bom + "{\"value\":[{\"n\":1}]}", {R"({"n":1})"}},
      {"NDJSON after a BOM", bom + "{\"n\":1}\n{\"n\":2}", {R"({"n":1})", R"({"n":2})"}},
      {"bare array after a BOM and a blank line",
       bom + "\n[{\"n\":1},\n{\"n\":2}]\n",
       {R"({"n":1})", R"({"n":2})"}},
      {"bare array on one line", "[{\"n\":1},{\"n\":2}]", {R"({"n":1})", R"({"n":2})"}},
      {"NDJSON whose first record has a value that is no array",
       "{\"n\":1,\"value\":5}\n{\"n\":2,\"value\":{\"a\":[1]}}\n",
       {R"({"n":1,"value":5})", R"({"n":2,"value":{"a":[1]}})"}},
      {"NDJSON records with entity annotations",
       "{\"@odata.id\":\"p1\",\"@odata.etag\":\"e\",\"n\":1}\n{\"n\":2}\n",
       {R"({"@odata.etag":"e","@odata.id":"p1","n":1})", R"({"n":2})"}},
      {"payload with @odata first",
       "{\"@odata.context\":\"c\",\"@odata.count\":1,\"value\":[{\"n\":1}]}",
       {R"({"n":1})"}},
      {"payload with value first",
       "{\"value\":[{\"n\":1}],\"@odata.context\":\"c\",\"@odata.nextLink\":\"x\"}\n",
       {R"({"n":1})"}},
      {"payload over many lines", "{\n  \"value\": [\n    {\"n\": 1}\n  ]\n}\n", {R"({"n":1})"}},
      {"payload whose first line ends in a member", "{\"value\":\n[{\"n\":1}]}", {R"({"n":1})"}},
      {"NDJSON whose first line is broken", "{\"n\": x}\n{\"n\":2}\n", {"error", R"({"n":2})"}},
      {"NDJSON whose first line has more after it",
       "{\"n\":1} {\"n\":2}\n{\"n\":3}\n",
       {"error", R"({"n":3})"}},
  };
  for (const Case& c : cases) {
    Result r = ReadAll(c.text, FeedFormat::kAuto);
    EXPECT_TRUE(r.status.ok()) << c.name << ": " << r.status;
    std::vector<std::string> got;
    for (const absl::StatusOr<json>& record : r.records) {
      got.push_back(record.ok() ? record->dump() : "error");
    }
    EXPECT_EQ(got, c.records) << c.name;
    EXPECT_EQ(r.bytes_read, static_cast<int64_t>(c.text.size())) << c.name;
  }
}

TEST(FeedReaderTest, AutoDetectionStartsWhereTheStreamIs) {
  const std::string header = "not json\n";
  const std::string text = header + "{\"n\":1}\n{\"n\":2}\n";
  std::istringstream in(text);
  in.seekg(static_cast<std::streamoff>(header.size()));
  std::atomic<int64_t> bytes_read{0};
  std::vector<json> records;
  absl::Status status = FeedReader::Read(
      in, FeedFormat::kAuto,
      [&](absl::StatusOr<json> record, int64_t) {
        EXPECT_TRUE(record.ok()) << record.status();
        if (record.ok()) {
          records.push_back(*std::move(record));
        }
        return true;
      },
      &bytes_read);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["n"], 2);
  EXPECT_EQ(bytes_read.load(), static_cast<int64_t>(text.size() - header.size()));
}

TEST(FeedReaderTest, ByteOrderMarkIsSkippedButCounted) {
  const std::string bom = "\xEF\xBB\xBF";
  Result payload = ReadAll(bom + "{\"value\":[{\"n\":1}]}", FeedFormat::kWebApi);
  ASSERT_TRUE(payload.status.ok()) << payload.status;
  EXPECT_EQ(payload.records.size(), 1u);
  EXPECT_EQ(payload.bytes_read, static_cast<int64_t>(bom.size() + 19));

  Result ndjson = ReadAll(bom + "{\"n\":1}\n{\"n\":2}\n", FeedFormat::kNdjson);
  ASSERT_TRUE(ndjson.status.ok()) << ndjson.status;
  ASSERT_EQ(ndjson.records.size(), 2u);
  EXPECT_TRUE(ndjson.records[0].ok()) << ndjson.records[0].status();

  // Bytes are named from the file's start, the mark included.
  const std::string broken = bom + R"({"value":[{"n": }]})";
  for (FeedFormat format : {FeedFormat::kWebApi, FeedFormat::kAuto}) {
    Result r = ReadAll(broken, format);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(r.status), HasSubstr(absl::StrCat("at byte ", broken.find('}') + 1, ":")));
  }
}

// A seekable stream over `data`, served a small chunk at a time, that
// remembers how far it had been read when first sent back.
class ChunkedBuf : public std::streambuf {
 public:
  explicit ChunkedBuf(std::string data) : data_(std::move(data)) {
    setg(data_.data(), data_.data(), data_.data());
  }

  int64_t read_before_rewind() const { return read_before_rewind_; }

 protected:
  int_type underflow() override {
    char* const end = data_.data() + data_.size();
    if (gptr() == end) {
      return traits_type::eof();
    }
    char* const next = gptr();
    char* const chunk_end = next + std::min<std::ptrdiff_t>(kChunk, end - next);
    setg(data_.data(), next, chunk_end);
    served_ = std::max<int64_t>(served_, chunk_end - data_.data());
    return traits_type::to_int_type(*next);
  }

  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    off_type base = 0;
    if (dir == std::ios_base::cur) {
      base = gptr() - data_.data();
    } else if (dir == std::ios_base::end) {
      base = static_cast<off_type>(data_.size());
    }
    return Seek(base + off);
  }

  pos_type seekpos(pos_type pos, std::ios_base::openmode) override { return Seek(pos); }

 private:
  static constexpr std::ptrdiff_t kChunk = 4096;

  pos_type Seek(off_type to) {
    if (to < 0 || to > static_cast<off_type>(data_.size())) {
      return pos_type(off_type(-1));
    }
    if (read_before_rewind_ < 0 && to < served_) {
      read_before_rewind_ = served_;
    }
    char* const at = data_.data() + to;
    setg(data_.data(), at, at);
    return pos_type(to);
  }

  std::string data_;
  int64_t served_ = 0;
  int64_t read_before_rewind_ = -1;
};

TEST(FeedReaderTest, AutoDetectionOfAOneLinePayloadReadsOnlyItsStart) {
  FeedOptions options;
  options.count = 6000;
  options.seed = 7;
  for (bool value_first : {false, true}) {
    // A payload on one line, several MiB, as Web APIs send them.
    std::string text = value_first ? "{\"value\":[" : "{\"@odata.context\":\"c\",\"value\":[";
    for (int64_t i = 0; i < options.count; ++i) {
      if (i > 0) {
        text.push_back(',');
      }
      AppendRecordJson(options, i, &text);
    }
    text.append(value_first ? "],\"@odata.nextLink\":\"x\"}\n" : "]}\n");
    ASSERT_GT(text.size(), 4u << 20);
    const int64_t size = static_cast<int64_t>(text.size());

    ChunkedBuf buf(std::move(text));
    std::istream in(&buf);
    std::atomic<int64_t> bytes_read{0};
    int64_t seen = 0;
    json last;
    absl::Status status = FeedReader::Read(
        in, FeedFormat::kAuto,
        [&](absl::StatusOr<json> record, int64_t index) {
          EXPECT_EQ(index, seen);
          ++seen;
          EXPECT_TRUE(record.ok()) << record.status();
          if (record.ok() && index == options.count - 1) {
            last = *std::move(record);
          }
          return true;
        },
        &bytes_read);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(seen, options.count);
    EXPECT_EQ(last, GenerateRecord(options, options.count - 1));
    EXPECT_EQ(bytes_read.load(), size);
    // Detection looked at 1 MiB and a read-ahead chunk, not the payload.
    EXPECT_GT(buf.read_before_rewind(), 0);
    EXPECT_LE(buf.read_before_rewind(), (1 << 20) + (1 << 17));
  }
}

}  // namespace
}  // namespace crm::listings
