// When a task may go, by its purpose's quiet hours and frequency cap, in the profile's time zone.
// Quiet hours "21:00-08:00" cover 21:00 up to (not including) 08:00 local time, across midnight
// when the start is later than the end; a task due inside waits for the end, right across DST
// changes. A cap "max per N days" counts deliveries since local midnight N-1 days ago (the
// window is today and the N-1 days before it, as a person counts "twice a week"); a cap in
// hours or minutes counts over the last `per`. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.h"

namespace date {
class time_zone;
}

namespace portrait::dispatch {

// The instant (µs) quiet hours end, when `now_us` is inside them; nullopt otherwise or when
// the purpose has none.
std::optional<int64_t> QuietHoursEnd(std::string_view quiet_hours, const date::time_zone* zone,
                                     int64_t now_us);

// Where the cap's window starts, for a count at `now_us`.
int64_t CapWindowStart(const config::FrequencyCap& cap, const date::time_zone* zone,
                       int64_t now_us);

// The next local midnight after `now_us`: when a deferred over-cap task looks again.
int64_t NextLocalMidnight(const date::time_zone* zone, int64_t now_us);

}  // namespace portrait::dispatch
