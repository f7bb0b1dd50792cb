// ActivityLog: the daemon's aggregate info line. Writes of single profiles (creations, updates,
// erasures, merges, consent records) are logged at debug level, one line each; at info level
// the scheduler's thread calls Tick about once a second and, once a period has passed since the
// last line, logs what changed in it, counts only ("activity in the last 60 s: 300 profiles
// created, …"), or nothing when nothing did. So a million customers make a line a minute, not a
// million lines. Not thread-safe: one caller (the scheduler's thread).
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>

#include "daemon/telemetry.h"

namespace portrait::daemon {

class ActivityLog {
 public:
  ActivityLog(const Telemetry& telemetry, spdlog::logger& log, std::chrono::seconds period);

  // Logs the counts since the last line when `period` has passed since it.
  void Tick(std::chrono::steady_clock::time_point now);

 private:
  struct Counts {
    uint64_t created = 0, updated = 0, erased = 0, merged = 0, consents = 0, events = 0;
  };
  Counts Read() const;

  const Telemetry& telemetry_;
  spdlog::logger& log_;
  const std::chrono::seconds period_;
  std::chrono::steady_clock::time_point last_line_;
  Counts last_;
};

}  // namespace portrait::daemon
