#include "common/log/log.h"

#include <atomic>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::log {
namespace {

struct State {
  absl::Mutex mu;
  std::string service ABSL_GUARDED_BY(mu);
  std::string* capture ABSL_GUARDED_BY(mu) = nullptr;
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
};

State& GetState() {
  static State* state = new State();
  return *state;
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetServiceName(absl::string_view service) {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  state.service = std::string(service);
}

void SetMinLevel(Level level) { GetState().min_level = static_cast<int>(level); }

void CaptureForTesting(std::string* sink) {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  state.capture = sink;
}

void AppendJsonString(std::string& out, absl::string_view value) {
  out.push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

Line::Line(Level level, absl::string_view message)
    : enabled_(static_cast<int>(level) >= GetState().min_level.load()) {
  if (!enabled_) {
    return;
  }
  buffer_.reserve(256);
  buffer_.append("{\"time\":\"");
  buffer_.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  buffer_.append("\",\"level\":\"");
  buffer_.append(LevelName(level).data(), LevelName(level).size());
  buffer_.append("\",\"msg\":");
  AppendJsonString(buffer_, message);
}

Line::~Line() {
  if (!enabled_) {
    return;
  }
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  if (!state.service.empty()) {
    buffer_.append(",\"service\":");
    AppendJsonString(buffer_, state.service);
  }
  buffer_.append("}\n");
  if (state.capture != nullptr) {
    state.capture->append(buffer_);
    return;
  }
  std::fwrite(buffer_.data(), 1, buffer_.size(), stderr);
  std::fflush(stderr);
}

Line& Line::Str(absl::string_view key, absl::string_view value) {
  if (enabled_) {
    buffer_.push_back(',');
    AppendJsonString(buffer_, key);
    buffer_.push_back(':');
    AppendJsonString(buffer_, value);
  }
  return *this;
}

Line& Line::Int(absl::string_view key, int64_t value) {
  if (enabled_) {
    buffer_.push_back(',');
    AppendJsonString(buffer_, key);
    absl::StrAppend(&buffer_, ":", value);
  }
  return *this;
}

Line& Line::Num(absl::string_view key, double value) {
  if (enabled_) {
    buffer_.push_back(',');
    AppendJsonString(buffer_, key);
    absl::StrAppendFormat(&buffer_, ":%.3f", value);
  }
  return *this;
}

Line& Line::Bool(absl::string_view key, bool value) {
  if (enabled_) {
    buffer_.push_back(',');
    AppendJsonString(buffer_, key);
    buffer_.append(value ? ":true" : ":false");
  }
  return *this;
}

}  // namespace crm::log
