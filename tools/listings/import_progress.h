#pragma once

// What an import has done so far, drawn for the person waiting: on a
// terminal, one line redrawn in place (a bar, records sent, rate, ETA);
// otherwise a plain line every few seconds, so a log or CI output stays
// readable. The reading thread only bumps counters; a thread of the
// display's own draws, so a slow terminal never slows the import.
//
//   ImportProgress progress(ProgressStyle::kAuto, file_size, stderr);
//   progress.Start();
//   ... progress.AddRecords(n); bytes_read.fetch_add(...) ...
//   progress.Stop();   // draws the final state and ends the line

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::listings {

enum class ProgressStyle { kAuto, kBar, kLines, kNone };

// 1234567 → "1,234,567": counts people read at a glance.
std::string Grouped(int64_t n);

// "auto", "bar", "lines", "none".
absl::StatusOr<ProgressStyle> ParseProgressStyle(const std::string& name);

// One frame's text, without the line's start or end: what the display
// shows, given the counts. `total_bytes` 0 means unknown (no bar, no ETA).
std::string ProgressText(int64_t records, int64_t bytes, int64_t total_bytes,
                         absl::Duration elapsed, bool bar);

class ImportProgress {
 public:
  // kAuto is kBar when `out` is a terminal, else kLines.
  ImportProgress(ProgressStyle style, int64_t total_bytes, FILE* out);
  ~ImportProgress() { Stop(); }

  void Start();
  void Stop();

  // Records handed to the stream so far.
  void AddRecords(int64_t n) { records_.fetch_add(n, std::memory_order_relaxed); }
  // Bytes of the file the reader has consumed (FeedReader::Read's counter).
  std::atomic<int64_t>* bytes() { return &bytes_; }

 private:
  void Run();
  void Draw(bool final_frame);

  const ProgressStyle style_;
  const int64_t total_bytes_;
  FILE* const out_;
  const absl::Time started_ = absl::Now();
  std::atomic<int64_t> records_{0};
  std::atomic<int64_t> bytes_{0};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  size_t last_width_ = 0;  // the display thread's, then Stop's
};

}  // namespace crm::listings
