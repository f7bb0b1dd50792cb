// The progress of `portraitctl import` on stderr: on a terminal a bar redrawn in place with the
// share of the file read, the rate and the time left; otherwise a plain line every few seconds.
// Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace portrait::cli {

class ImportProgress {
 public:
  // `total_bytes`: the file's size (0 when unknown).
  ImportProgress(int64_t total_bytes, bool terminal, std::FILE* out = stderr);
  // After each batch: bytes of the file read, lines read, lines failed so far.
  void Update(int64_t bytes, int64_t lines, int64_t failed);
  // The last update, always drawn, and a line end on a terminal.
  void Finish(int64_t bytes, int64_t lines, int64_t failed);

 private:
  void Draw(int64_t bytes, int64_t lines, int64_t failed);

  using Clock = std::chrono::steady_clock;
  int64_t total_;
  bool terminal_;
  std::FILE* out_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace portrait::cli
