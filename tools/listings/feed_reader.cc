#include "tools/listings/feed_reader.h"

#include <cstring>
#include <streambuf>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crm::listings {
namespace {

using json = nlohmann::json;
using traits = std::streambuf::traits_type;

// How much of the first line format detection looks at: far more than one
// record, far less than a payload.
constexpr size_t kDetectLimit = 1 << 20;

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr size_t kBomSize = sizeof(kBom) - 1;

// SAX events to records, never holding more than the record being built.
//
// kPayload: the elements of a bare top-level array, or of the top-level
// object's "value" array, are the records; each is handed over as it closes,
// and an element that is not an object is a failed record in its place.
// Everything else in the payload is skipped without being kept.
//
// kLine: the top-level value, when an object, is the record, kept for the
// caller: an NDJSON line must first prove it holds nothing after it.
class RecordBuilder : public nlohmann::json_sax<json> {
 public:
  enum class Mode { kPayload, kLine };

  RecordBuilder(Mode mode, FeedReader::RecordFn emit, int64_t* index)
      : mode_(mode), emit_(emit), index_(index) {}

  bool null() override { return Scalar(nullptr); }
  bool boolean(bool v) override { return Scalar(v); }
  bool number_integer(number_integer_t v) override { return Scalar(v); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(v); }
  // The number as written: exact decimals.
  bool number_float(number_float_t, const string_t& raw) override { return Scalar(raw); }
  bool string(string_t& v) override { return Scalar(std::move(v)); }
  bool binary(binary_t&) override { return Scalar(nullptr); }

  bool start_object(std::size_t) override {
    if (InRecord()) {
      return OpenChild(json::object());
    }
    if (AtElement()) {
      record_ = json::object();
      stack_.push_back(&record_);
    } else if (depth_ == 0) {
      top_is_object_ = true;
    }
    ++depth_;
    return true;
  }

  bool start_array(std::size_t) override {
    if (InRecord()) {
      return OpenChild(json::array());
    }
    if (AtElement()) {
      // Its contents sit deeper than records, so they are skipped.
      ++depth_;
      return NotAnObject();
    }
    if (mode_ == Mode::kPayload &&
        (depth_ == 0 || (depth_ == 1 && top_is_object_ && top_key_ == "value"))) {
      in_records_ = true;
      records_depth_ = depth_ + 1;
    }
    ++depth_;
    return true;
  }

  bool key(string_t& k) override {
    if (InRecord()) {
      key_ = std::move(k);
    } else if (depth_ == 1 && top_is_object_) {
      top_key_ = std::move(k);
    }
    return true;
  }

  bool end_object() override { return Close(); }

  bool end_array() override {
    if (!InRecord() && in_records_ && depth_ == records_depth_) {
      in_records_ = false;  // what follows "value" holds no records
    }
    return Close();
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    error_position_ = static_cast<int64_t>(position);
    error_what_ = e.what();
    return false;
  }

  bool stopped() const { return stopped_; }
  bool failed() const { return error_position_ >= 0; }
  // 1-based, from where the parse began.
  int64_t error_position() const { return error_position_; }
  const std::string& error_what() const { return error_what_; }

  // kLine: whether the line's object closed, and the object.
  bool has_record() const { return has_record_; }
  json TakeRecord() { return std::move(record_); }

 private:
  bool InRecord() const { return !stack_.empty(); }

  // Whether a value starting now is a record's place.
  bool AtElement() const {
    return mode_ == Mode::kLine ? depth_ == 0 : in_records_ && depth_ == records_depth_;
  }

  bool Scalar(json v) {
    if (InRecord()) {
      json& top = *stack_.back();
      if (top.is_object()) {
        top[key_] = std::move(v);
      } else {
        top.push_back(std::move(v));
      }
      return true;
    }
    if (AtElement()) {
      return NotAnObject();
    }
    return true;  // outside a record: skipped
  }

  bool OpenChild(json container) {
    json& top = *stack_.back();
    json* child;
    if (top.is_object()) {
      top[key_] = std::move(container);
      child = &top[key_];
    } else {
      top.push_back(std::move(container));
      child = &top.back();
    }
    stack_.push_back(child);
    ++depth_;
    return true;
  }

  bool Close() {
    --depth_;
    if (!InRecord()) {
      return true;
    }
    stack_.pop_back();
    if (!stack_.empty()) {
      return true;
    }
    if (mode_ == Mode::kLine) {
      has_record_ = true;
      return true;
    }
    return Emit(std::move(record_));
  }

  // A record's place taken by something else still counts as a record, so
  // the positions reported after it stay right.
  bool NotAnObject() {
    if (mode_ == Mode::kLine) {
      return true;  // the caller reports the line
    }
    return Emit(
        absl::InvalidArgumentError(absl::StrCat("record ", *index_, ": not a JSON object")));
  }

  bool Emit(absl::StatusOr<json> record) {
    if (!emit_(std::move(record), (*index_)++)) {
      stopped_ = true;
      return false;
    }
    return true;
  }

  const Mode mode_;
  FeedReader::RecordFn emit_;
  int64_t* const index_;
  int depth_ = 0;
  bool top_is_object_ = false;
  std::string top_key_;
  bool in_records_ = false;
  int records_depth_ = -1;
  std::string key_;
  json record_;
  std::vector<json*> stack_;
  bool has_record_ = false;
  bool stopped_ = false;
  int64_t error_position_ = -1;
  std::string error_what_;
};

// Reads another streambuf in large chunks, counting what it takes (for
// progress) when given a counter.
class CountingBuf : public std::streambuf {
 public:
  CountingBuf(std::streambuf* source, std::atomic<int64_t>* counter)
      : source_(source), counter_(counter) {}

  // Skips a UTF-8 byte order mark at the current position; the bytes
  // skipped.
  int64_t SkipBom() {
    if (sgetc() == traits::eof()) {
      return 0;
    }
    // A chunk holds all of a source's first bytes, so a mark is whole here.
    if (static_cast<size_t>(egptr() - gptr()) >= kBomSize &&
        std::memcmp(gptr(), kBom, kBomSize) == 0) {
      gbump(static_cast<int>(kBomSize));
      return static_cast<int64_t>(kBomSize);
    }
    return 0;
  }

 protected:
  int_type underflow() override {
    const std::streamsize n = source_->sgetn(buffer_, sizeof(buffer_));
    if (n <= 0) {
      return traits_type::eof();
    }
    if (counter_ != nullptr) {
      counter_->fetch_add(n, std::memory_order_relaxed);
    }
    setg(buffer_, buffer_, buffer_ + n);
    return traits_type::to_int_type(buffer_[0]);
  }

 private:
  std::streambuf* const source_;
  std::atomic<int64_t>* const counter_;
  char buffer_[1 << 16];
};

bool IsJsonSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What a first line that opens an object says about the file. A payload
// shows a top-level "value" array or a collection annotation; an NDJSON
// record closes on its line. Nothing is kept but the current top-level key.
class FormatProbe : public nlohmann::json_sax<json> {
 public:
  explicit FormatProbe(size_t line_size) : line_size_(line_size) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }

  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 1 && key_ == "value") {
      return Decide(FeedFormat::kWebApi);
    }
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != 1) {
      return true;
    }
    // Only the payload's own annotations: records often carry entity ones
    // ("@odata.id", "@odata.etag"), also when written as NDJSON.
    if (k == "@odata.context" || k == "@odata.count" || k == "@odata.nextLink" ||
        k == "@odata.deltaLink") {
      return Decide(FeedFormat::kWebApi);
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    // Past the line's end, the object goes on over the next lines: a payload
    // written out on many lines. A fault within the line is that line's.
    return Decide(position > line_size_ ? FeedFormat::kWebApi : FeedFormat::kNdjson);
  }

  FeedFormat format() const { return format_; }

 private:
  bool Close() {
    if (--depth_ == 0) {
      return Decide(FeedFormat::kNdjson);  // a whole object on the line
    }
    return true;
  }
  bool Decide(FeedFormat format) {
    format_ = format;
    return false;  // ends the pass
  }

  const size_t line_size_;
  int depth_ = 0;
  std::string key_;
  FeedFormat format_ = FeedFormat::kNdjson;
};

// Looks at the start of `in` only (at most kDetectLimit bytes of its first
// line), then puts it back where it was.
absl::StatusOr<FeedFormat> Detect(std::istream& in) {
  const absl::Status cannot_tell =
      absl::InvalidArgumentError("feed: cannot tell its format; give --format");
  const std::streampos start = in.tellg();
  if (start == std::streampos(-1)) {
    return cannot_tell;
  }
  FeedFormat format = FeedFormat::kWebApi;
  {
    CountingBuf buf(in.rdbuf(), nullptr);
    buf.SkipBom();
    int c = buf.sgetc();
    while (c != traits::eof() && IsJsonSpace(c)) {
      c = buf.snextc();
    }
    // '[' is a bare array. Anything else but an object is no NDJSON record,
    // and the payload's parse names the byte.
    if (c == '{') {
      std::string line;
      while (c != traits::eof() && c != '\n' && line.size() < kDetectLimit) {
        line.push_back(traits::to_char_type(c));
        c = buf.snextc();
      }
      // A line that long is a payload on one line (the usual shape).
      if (c == traits::eof() || c == '\n') {
        FormatProbe probe(line.size());
        json::sax_parse(line, &probe);
        format = probe.format();
      }
    }
  }
  in.clear();
  in.seekg(start);
  if (!in) {
    return cannot_tell;
  }
  return format;
}

}  // namespace

absl::StatusOr<FeedFormat> ParseFeedFormat(const std::string& name) {
  if (name == "auto") {
    return FeedFormat::kAuto;
  }
  if (name == "webapi") {
    return FeedFormat::kWebApi;
  }
  if (name == "ndjson") {
    return FeedFormat::kNdjson;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--format: \"", name, "\" is not auto, webapi or ndjson"));
}

absl::Status FeedReader::Read(std::istream& in, FeedFormat format, RecordFn record,
                              std::atomic<int64_t>* bytes_read) {
  if (format == FeedFormat::kAuto) {
    absl::StatusOr<FeedFormat> detected = Detect(in);
    if (!detected.ok()) {
      return detected.status();
    }
    format = *detected;
  }
  CountingBuf counted(in.rdbuf(), bytes_read);
  // Byte positions in messages count from the file's start, mark included.
  const int64_t skipped = counted.SkipBom();
  std::istream source(&counted);
  int64_t index = 0;
  if (format == FeedFormat::kWebApi) {
    RecordBuilder builder(RecordBuilder::Mode::kPayload, record, &index);
    json::sax_parse(source, &builder);
    if (builder.stopped()) {
      return absl::OkStatus();
    }
    if (builder.failed()) {
      return absl::InvalidArgumentError(absl::StrCat("feed: not valid JSON at byte ",
                                                     skipped + builder.error_position(), ": ",
                                                     builder.error_what()));
    }
    return absl::OkStatus();
  }
  std::string line;
  int64_t line_number = 0;
  while (std::getline(source, line)) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) {
      continue;
    }
    RecordBuilder builder(RecordBuilder::Mode::kLine, record, &index);
    json::sax_parse(line, &builder);
    absl::StatusOr<json> result;
    if (builder.has_record() && !builder.failed()) {
      result = builder.TakeRecord();
    } else if (builder.has_record()) {
      // One record, whole or not at all: a second object or stray text after
      // it means the line is not what the feed meant.
      result = absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": text after the JSON object at byte ",
                       builder.error_position(), " of the line (", builder.error_what(), ")"));
    } else if (builder.failed()) {
      result = absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": not a JSON object (not valid JSON at byte ",
                       builder.error_position(), " of the line: ", builder.error_what(), ")"));
    } else {
      result =
          absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": not a JSON object"));
    }
    if (!record(std::move(result), index++)) {
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace crm::listings
