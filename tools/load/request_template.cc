#include "tools/load/request_template.h"

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files/read_file.h"
#include "google/protobuf/util/json_util.h"

namespace crm::load {

uint64_t NumberSpec::range_size() const {
  if (kind != Kind::kRange) {
    return 0;
  }
  // Unsigned arithmetic: the full int64 range wraps to 0, i.e. "unbounded".
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  return span == std::numeric_limits<uint64_t>::max() ? 0 : span + 1;
}

absl::StatusOr<NumberSpec> ParseNumberSpec(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  NumberSpec spec;
  const auto bad = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--n='", text, "': ", why, " (want counter, counter:START or range:LO:HI)"));
  };
  if (parts[0] == "counter" && parts.size() <= 2) {
    spec.kind = NumberSpec::Kind::kCounter;
    if (parts.size() == 2 && !absl::SimpleAtoi(parts[1], &spec.lo)) {
      return bad("START is not an integer");
    }
    return spec;
  }
  if (parts[0] == "range" && parts.size() == 3) {
    spec.kind = NumberSpec::Kind::kRange;
    if (!absl::SimpleAtoi(parts[1], &spec.lo) || !absl::SimpleAtoi(parts[2], &spec.hi)) {
      return bad("LO and HI must be integers");
    }
    if (spec.lo > spec.hi) {
      return bad("LO is greater than HI");
    }
    return spec;
  }
  return bad("unknown form");
}

int64_t DrawNumber(const NumberSpec& spec, uint64_t seq, std::mt19937_64& rng) {
  if (spec.kind == NumberSpec::Kind::kCounter) {
    return static_cast<int64_t>(static_cast<uint64_t>(spec.lo) + seq);
  }
  return std::uniform_int_distribution<int64_t>(spec.lo, spec.hi)(rng);
}

bool HasPlaceholder(absl::string_view text) { return absl::StrContains(text, kPlaceholder); }

std::string Fill(absl::string_view text, int64_t n) {
  return absl::StrReplaceAll(text, {{kPlaceholder, absl::StrCat(n)}});
}

absl::StatusOr<std::vector<RequestText>> ReadRequestFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) {
    return content.status();
  }
  std::vector<RequestText> texts;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) {
      texts.push_back({absl::StrCat(path, " line ", line_number), std::string(line)});
    }
  }
  if (texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no requests (one JSON per line)"));
  }
  return texts;
}

RequestSet::RequestSet(const google::protobuf::Descriptor* type, std::vector<RequestText> texts,
                       NumberSpec numbers)
    : type_(type),
      texts_(std::move(texts)),
      numbers_(numbers),
      any_placeholder_([this] {
        for (const RequestText& t : texts_) {
          if (HasPlaceholder(t.json)) {
            return true;
          }
        }
        return false;
      }()),
      factory_(std::make_unique<google::protobuf::DynamicMessageFactory>(type->file()->pool())) {
  prototype_ = factory_->GetPrototype(type_);
}

namespace {

absl::StatusOr<std::string> ToBytes(const google::protobuf::Message& prototype,
                                    const std::string& json) {
  std::unique_ptr<google::protobuf::Message> message(prototype.New());
  const auto status = google::protobuf::util::JsonStringToMessage(json, message.get());
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return message->SerializeAsString();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RequestSet>> RequestSet::Create(
    const google::protobuf::Descriptor* type, std::vector<RequestText> texts, NumberSpec numbers,
    int64_t max_preserialised) {
  if (texts.empty()) {
    return absl::InvalidArgumentError("no request given (--data or --data_file)");
  }
  std::unique_ptr<RequestSet> set(new RequestSet(type, std::move(texts), numbers));
  const auto parse = [&set](size_t i, int64_t n) -> absl::StatusOr<std::string> {
    const RequestText& text = set->texts_[i];
    const std::string json = Fill(text.json, n);
    absl::StatusOr<std::string> bytes = ToBytes(*set->prototype_, json);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", text.label, " is not a valid ", set->type_->full_name(),
                       HasPlaceholder(text.json) ? absl::StrCat(" (with {n}=", n, ")") : "", ": ",
                       bytes.status().message(), "\n  JSON: ", json));
    }
    return bytes;
  };
  // Every text is checked before any load is sent.
  for (size_t i = 0; i < set->texts_.size(); ++i) {
    if (absl::StatusOr<std::string> bytes = parse(i, numbers.lo); !bytes.ok()) {
      return bytes.status();
    }
  }
  const uint64_t values = !set->any_placeholder_ ? 1 : numbers.range_size();
  const uint64_t distinct = values * set->texts_.size();
  if (values == 0 || values > static_cast<uint64_t>(max_preserialised) ||
      distinct > static_cast<uint64_t>(max_preserialised)) {
    return set;
  }
  std::vector<std::string> bytes;
  bytes.reserve(distinct);
  for (size_t i = 0; i < set->texts_.size(); ++i) {
    for (uint64_t v = 0; v < values; ++v) {
      absl::StatusOr<std::string> b = parse(i, numbers.lo + static_cast<int64_t>(v));
      if (!b.ok()) {
        return b.status();
      }
      bytes.push_back(*std::move(b));
    }
  }
  set->bytes_ = std::move(bytes);
  return set;
}

RequestSet::Pick RequestSet::Draw(uint64_t seq, std::mt19937_64& rng) const {
  Pick pick{.text = static_cast<size_t>(seq % texts_.size()), .n = numbers_.lo};
  if (any_placeholder_) {
    pick.n = DrawNumber(numbers_, seq, rng);
  }
  return pick;
}

size_t RequestSet::Index(const Pick& pick) const {
  if (!any_placeholder_) {
    return pick.text;
  }
  const uint64_t values = numbers_.range_size();
  return static_cast<size_t>(pick.text * values +
                             (static_cast<uint64_t>(pick.n) - static_cast<uint64_t>(numbers_.lo)));
}

absl::StatusOr<std::string> RequestSet::Serialise(const Pick& pick) const {
  return ToBytes(*prototype_, Fill(texts_[pick.text].json, pick.n));
}

}  // namespace crm::load
