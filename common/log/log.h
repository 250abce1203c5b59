#pragma once

// Structured logging: every line is one JSON object on stderr, so log
// collectors can parse it without rules. Logging never blocks on stderr:
// lines are buffered and written by a thread of their own (see Flush). Fields are added with a
// builder and the line is written when the temporary goes out of scope:
//
//   crm::log::Info("migration applied").Int("version", 3).Str("name", name);
//
// Never log secrets: tokens, passwords, DSNs with passwords, hashes.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::log {

enum class Level { kDebug, kInfo, kWarning, kError };

// Names the service in every line ("auth", "leads", ...). Call once at start-up.
void SetServiceName(absl::string_view service);

// Lines below this level are dropped. Default kInfo.
void SetMinLevel(Level level);

class Line {
 public:
  Line(Level level, absl::string_view message);
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line();

  Line& Str(absl::string_view key, absl::string_view value);
  Line& Int(absl::string_view key, int64_t value);
  Line& Num(absl::string_view key, double value);
  Line& Bool(absl::string_view key, bool value);

 private:
  bool enabled_;
  bool flush_;
  std::string buffer_;
};

inline Line Debug(absl::string_view message) { return Line(Level::kDebug, message); }
inline Line Info(absl::string_view message) { return Line(Level::kInfo, message); }
inline Line Warning(absl::string_view message) { return Line(Level::kWarning, message); }
inline Line Error(absl::string_view message) { return Line(Level::kError, message); }

// Appends `value` to `out` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, absl::string_view value);

// Writes every line logged so far before returning. Lines are written by a
// thread of the log's own (request threads never wait for stderr); warnings
// and errors are flushed as they are logged, and everything at exit.
void Flush();

// For tests: lines go to this string instead of stderr while set (nullptr resets).
void CaptureForTesting(std::string* sink);

}  // namespace crm::log
