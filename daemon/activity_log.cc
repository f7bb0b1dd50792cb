#include "daemon/activity_log.h"

namespace portrait::daemon {

ActivityLog::ActivityLog(const Telemetry& telemetry, spdlog::logger& log,
                         std::chrono::seconds period)
    : telemetry_(telemetry),
      log_(log),
      period_(period),
      last_line_(std::chrono::steady_clock::now()),
      last_(Read()) {}

ActivityLog::Counts ActivityLog::Read() const {
  return Counts{telemetry_.profiles_created.value(),  telemetry_.profiles_updated.value(),
                telemetry_.profiles_erased.value(),   telemetry_.profiles_merged.value(),
                telemetry_.consents_recorded.value(), telemetry_.events_accepted.value()};
}

void ActivityLog::Tick(std::chrono::steady_clock::time_point now) {
  if (now - last_line_ < period_) {
    return;
  }
  const Counts c = Read();
  const Counts d{c.created - last_.created, c.updated - last_.updated,   c.erased - last_.erased,
                 c.merged - last_.merged,   c.consents - last_.consents, c.events - last_.events};
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - last_line_).count();
  last_line_ = now;
  last_ = c;
  if (d.created + d.updated + d.erased + d.merged + d.consents + d.events == 0) {
    return;
  }
  log_.info(
      "activity in the last {} s: {} profiles created, {} updated, {} erased, {} merged; {} "
      "consent records; {} events",
      seconds, d.created, d.updated, d.erased, d.merged, d.consents, d.events);
}

}  // namespace portrait::daemon
