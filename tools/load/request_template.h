#pragma once

// Request texts with a `{n}` placeholder, and how `{n}` is drawn per call:
//   --n=counter[:start]  start, start+1, ... (one value per call, across all
//                        threads: unique values, e.g. for creates)
//   --n=range:LO:HI      uniform random in [LO, HI], inclusive
//
// RequestSet turns protobuf-JSON texts into serialised request messages. When
// the set of distinct requests is small (no placeholder, or a range of at most
// kMaxPreserialised requests in all) every one is serialised up front, so a
// call only picks bytes; otherwise each call substitutes, parses and
// serialises its own.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"

namespace crm::load {

inline constexpr absl::string_view kPlaceholder = "{n}";
inline constexpr int64_t kMaxPreserialised = 65536;

struct NumberSpec {
  enum class Kind { kCounter, kRange };
  Kind kind = Kind::kCounter;
  int64_t lo = 1;  // the counter's start, or the range's low end
  int64_t hi = 0;  // the range's high end (inclusive)

  // Values the range can take (0 for a counter, which never repeats).
  uint64_t range_size() const;
};

// Parses "counter", "counter:START" or "range:LO:HI" (LO <= HI).
absl::StatusOr<NumberSpec> ParseNumberSpec(absl::string_view text);

// The value of {n} for the call with sequence number `seq` (0, 1, ... over
// the whole run); `rng` is the calling thread's own.
int64_t DrawNumber(const NumberSpec& spec, uint64_t seq, std::mt19937_64& rng);

bool HasPlaceholder(absl::string_view text);
// `text` with every {n} replaced by `n`.
std::string Fill(absl::string_view text, int64_t n);

// One request as given: where it came from ("--data #2", "file.jsonl line
// 7") for error messages, and its JSON text.
struct RequestText {
  std::string label;
  std::string json;
};

// Reads one JSON request per non-empty line of `path`.
absl::StatusOr<std::vector<RequestText>> ReadRequestFile(const std::string& path);

class RequestSet {
 public:
  // Checks every text parses as `type` (with {n} set to the first value
  // drawn) and pre-serialises when at most `max_preserialised` distinct
  // requests exist. INVALID_ARGUMENT names the request and the parse error.
  static absl::StatusOr<std::unique_ptr<RequestSet>> Create(
      const google::protobuf::Descriptor* type, std::vector<RequestText> texts, NumberSpec numbers,
      int64_t max_preserialised = kMaxPreserialised);

  // Which request the call `seq` sends: texts are cycled, {n} drawn.
  struct Pick {
    size_t text = 0;
    int64_t n = 0;
  };
  Pick Draw(uint64_t seq, std::mt19937_64& rng) const;

  bool preserialised() const { return !bytes_.empty(); }
  // Pre-serialised mode: all distinct requests, and the one `pick` stands for.
  const std::vector<std::string>& all_bytes() const { return bytes_; }
  size_t Index(const Pick& pick) const;
  // Per-call mode: substitutes, parses and serialises (thread-safe).
  absl::StatusOr<std::string> Serialise(const Pick& pick) const;

  size_t size() const { return texts_.size(); }

 private:
  RequestSet(const google::protobuf::Descriptor* type, std::vector<RequestText> texts,
             NumberSpec numbers);

  const google::protobuf::Descriptor* const type_;
  const std::vector<RequestText> texts_;
  const NumberSpec numbers_;
  const bool any_placeholder_;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
  const google::protobuf::Message* prototype_ = nullptr;
  // Pre-serialised: for each text, one entry per value of the range (or one
  // in all when no text has a placeholder).
  std::vector<std::string> bytes_;
};

}  // namespace crm::load
