#include "common/log/log.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::log {
namespace {

// Past this much unwritten output (stderr blocked: a full pipe, a stopped
// terminal) lines are dropped and counted rather than held in memory or
// allowed to stall request threads.
constexpr size_t kMaxPendingBytes = 8 << 20;
// How long the writer lets lines gather before writing them.
constexpr absl::Duration kGatherTime = absl::Milliseconds(2);

void WriteAll(absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // nowhere left to report it
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Lines are appended to a buffer under a lock held only for the copy; a
// writer thread of its own issues the write(2) calls, so no request thread
// waits for stderr, and lines arriving together leave in one write.
class Writer {
 public:
  Writer() {
    std::thread([this] { Run(); }).detach();
    std::atexit([] { Instance().Flush(); });
  }

  static Writer& Instance() {
    static Writer* writer = new Writer();  // never destroyed: threads may log during exit
    return *writer;
  }

  void Append(absl::string_view line) {
    absl::MutexLock lock(&mu_);
    if (pending_.size() + line.size() > kMaxPendingBytes) {
      ++dropped_;
      return;
    }
    pending_.append(line.data(), line.size());
  }

  // Writes everything appended so far before returning.
  void Flush() {
    absl::MutexLock write_lock(&write_mu_);
    WriteOnce();
  }

 private:
  bool HasPending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !pending_.empty(); }

  // Takes what is pending and writes it; write_mu_ keeps the order between the
  // writer thread and Flush().
  void WriteOnce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    int64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      out_.swap(pending_);
      dropped = dropped_;
      dropped_ = 0;
    }
    if (dropped > 0) {
      absl::StrAppend(
          &out_, "{\"level\":\"warning\",\"msg\":\"log lines dropped\",\"count\":", dropped, "}\n");
    }
    WriteAll(out_);
    out_.clear();
  }

  void Run() {
    // Signals are for the thread that waits for them (the runner's sigwait),
    // never for this one, whichever thread happened to start it.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Writer::HasPending));
      }
      // Let a burst gather: under load one write(2) then carries the lines of
      // many calls, and loggers rarely find this thread waiting to be woken.
      absl::SleepFor(kGatherTime);
      absl::MutexLock write_lock(&write_mu_);
      WriteOnce();
    }
  }

  absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::string out_ ABSL_GUARDED_BY(write_mu_);
};

struct State {
  // `,"service":"auth"`, set once at start-up; read on every line without a lock.
  std::atomic<const std::string*> service_field{new std::string()};
  // Every value service_field ever held: a line being written may still be
  // reading an old one, so none is freed (and none counts as leaked).
  absl::Mutex names_mu;
  std::vector<std::unique_ptr<const std::string>> names ABSL_GUARDED_BY(names_mu);
  absl::Mutex capture_mu;
  std::string* capture ABSL_GUARDED_BY(capture_mu) = nullptr;
  std::atomic<bool> capturing{false};
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

// RFC 3339 UTC with milliseconds. The seconds part is formatted once per
// second per thread; formatting it for every line was a visible cost.
void AppendTime(std::string& out, absl::Time now) {
  thread_local int64_t cached_second = -1;
  thread_local char cached[32];
  const int64_t millis = absl::ToUnixMillis(now);
  const int64_t second = millis >= 0 ? millis / 1000 : (millis - 999) / 1000;
  if (second != cached_second) {
    const std::string text =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    absl::SNPrintF(cached, sizeof(cached), "%s", text);
    cached_second = second;
  }
  out.append(cached);
  absl::StrAppendFormat(&out, ".%03dZ", static_cast<int>(millis - second * 1000));
}

}  // namespace

void SetServiceName(absl::string_view service) {
  std::string field;
  if (!service.empty()) {
    field = ",\"service\":";
    AppendJsonString(field, service);
  }
  State& state = GetState();
  auto owned = std::make_unique<const std::string>(std::move(field));
  const std::string* previous = state.service_field.exchange(owned.get());
  absl::MutexLock lock(&state.names_mu);
  state.names.emplace_back(previous);
  state.names.push_back(std::move(owned));
}

void SetMinLevel(Level level) { GetState().min_level = static_cast<int>(level); }

void CaptureForTesting(std::string* sink) {
  State& state = GetState();
  absl::MutexLock lock(&state.capture_mu);
  state.capture = sink;
  state.capturing = sink != nullptr;
}

void Flush() { Writer::Instance().Flush(); }

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
    : enabled_(static_cast<int>(level) >= GetState().min_level.load(std::memory_order_relaxed)),
      flush_(level >= Level::kWarning) {
  if (!enabled_) {
    return;
  }
  buffer_.reserve(256);
  buffer_.append("{\"time\":\"");
  AppendTime(buffer_, absl::Now());
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
  buffer_.append(*state.service_field.load());
  buffer_.append("}\n");
  if (state.capturing.load()) {
    absl::MutexLock lock(&state.capture_mu);
    if (state.capture != nullptr) {
      state.capture->append(buffer_);
      return;
    }
  }
  Writer& writer = Writer::Instance();
  writer.Append(buffer_);
  // Warnings and errors may be the last words before a crash: out at once.
  if (flush_) {
    writer.Flush();
  }
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
