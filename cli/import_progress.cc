#include "cli/import_progress.h"

#include <string>

namespace portrait::cli {
namespace {

std::string Hms(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

}  // namespace

ImportProgress::ImportProgress(int64_t total_bytes, bool terminal, std::FILE* out)
    : total_(total_bytes), terminal_(terminal), out_(out) {}

void ImportProgress::Update(int64_t bytes, int64_t lines, int64_t failed) {
  const auto now = Clock::now();
  if (now - last_ < (terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) {
    return;
  }
  last_ = now;
  Draw(bytes, lines, failed);
}

void ImportProgress::Finish(int64_t bytes, int64_t lines, int64_t failed) {
  Draw(bytes, lines, failed);
  if (terminal_) {
    std::fputc('\n', out_);
  }
  std::fflush(out_);
}

void ImportProgress::Draw(int64_t bytes, int64_t lines, int64_t failed) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? lines / elapsed : 0;
  const double share = total_ > 0 ? std::min(1.0, static_cast<double>(bytes) / total_) : 0;
  const double left = share > 0 ? elapsed * (1 - share) / share : 0;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(share * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(out_, "\r[%s] %3.0f%%  %lld lines  %.0f lines/s  ETA %s  %lld failed ",
                 bar.c_str(), share * 100, static_cast<long long>(lines), rate, Hms(left).c_str(),
                 static_cast<long long>(failed));
  } else {
    std::fprintf(out_, "import: %lld lines read (%.0f%%), %.0f lines/s, ETA %s, %lld failed\n",
                 static_cast<long long>(lines), share * 100, rate, Hms(left).c_str(),
                 static_cast<long long>(failed));
  }
  std::fflush(out_);
}

}  // namespace portrait::cli
