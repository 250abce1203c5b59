#include "tools/listings/import_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::listings {
namespace {

constexpr absl::Duration kBarPeriod = absl::Milliseconds(200);
constexpr absl::Duration kLinePeriod = absl::Seconds(5);
constexpr int kBarWidth = 24;

}  // namespace

std::string Grouped(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return n < 0 ? absl::StrCat("-", out) : out;
}

namespace {

std::string Clock(absl::Duration d) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s >= 3600) {
    return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  }
  if (s >= 60) {
    return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  }
  return absl::StrCat(s, "s");
}

}  // namespace

absl::StatusOr<ProgressStyle> ParseProgressStyle(const std::string& name) {
  if (name == "auto") {
    return ProgressStyle::kAuto;
  }
  if (name == "bar") {
    return ProgressStyle::kBar;
  }
  if (name == "lines") {
    return ProgressStyle::kLines;
  }
  if (name == "none") {
    return ProgressStyle::kNone;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--progress: \"", name, "\" is not auto, bar, lines or none"));
}

std::string ProgressText(int64_t records, int64_t bytes, int64_t total_bytes,
                         absl::Duration elapsed, bool bar) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? records / seconds : 0;
  std::string out;
  double fraction = -1;
  if (total_bytes > 0) {
    fraction = std::clamp(static_cast<double>(bytes) / total_bytes, 0.0, 1.0);
  }
  if (bar && fraction >= 0) {
    const int filled = static_cast<int>(std::floor(fraction * kBarWidth));
    absl::StrAppend(&out, "[", std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                    "] ");
  }
  if (fraction >= 0) {
    absl::StrAppend(&out, absl::StrFormat("%3d%% ", static_cast<int>(fraction * 100)));
  }
  absl::StrAppend(&out, Grouped(records), " records, ", Grouped(std::llround(rate)), "/s");
  // The ETA from the bytes still to read at the rate bytes went so far: it
  // needs no record count, which a stream does not state up front.
  if (fraction > 0.01 && fraction < 1 && seconds > 0.5) {
    const double remaining = seconds * (1 - fraction) / fraction;
    absl::StrAppend(&out, ", ETA ", Clock(absl::Seconds(remaining)));
  } else {
    absl::StrAppend(&out, ", ", Clock(elapsed));
  }
  return out;
}

ImportProgress::ImportProgress(ProgressStyle style, int64_t total_bytes, FILE* out)
    : style_(style == ProgressStyle::kAuto
                 ? (isatty(fileno(out)) != 0 ? ProgressStyle::kBar : ProgressStyle::kLines)
                 : style),
      total_bytes_(total_bytes),
      out_(out) {}

void ImportProgress::Start() {
  if (style_ == ProgressStyle::kNone || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void ImportProgress::Stop() {
  if (!thread_.joinable()) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  Draw(/*final_frame=*/true);
}

void ImportProgress::Run() {
  const absl::Duration period = style_ == ProgressStyle::kBar ? kBarPeriod : kLinePeriod;
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), period)) {
    mu_.Unlock();
    Draw(/*final_frame=*/false);
    mu_.Lock();
  }
}

void ImportProgress::Draw(bool final_frame) {
  const bool bar = style_ == ProgressStyle::kBar;
  const std::string text =
      ProgressText(records_.load(std::memory_order_relaxed), bytes_.load(std::memory_order_relaxed),
                   total_bytes_, absl::Now() - started_, bar);
  if (bar) {
    // Redrawn in place; spaces wipe what a longer previous frame left.
    const size_t pad = last_width_ > text.size() ? last_width_ - text.size() : 0;
    fprintf(out_, "\r%s%s%s", text.c_str(), std::string(pad, ' ').c_str(), final_frame ? "\n" : "");
    last_width_ = text.size();
  } else {
    fprintf(out_, "import: %s\n", text.c_str());
  }
  fflush(out_);
}

}  // namespace crm::listings
