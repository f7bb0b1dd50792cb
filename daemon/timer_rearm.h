// Re-arming: which of one profile's anniversary, schedule and lifecycle timers to set, move or
// clear so that they match the rules and time zones in force. Used after a profile write (with
// the profile open) and by the re-arm after a rule change (with only the profile's anniversary
// anchors and zone: store.h TimerInputs, nothing decrypted). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/engine.h"
#include "store/store.h"

namespace portrait::daemon {

// The timer that re-evaluates a profile's lifecycle stage daily.
inline constexpr std::string_view kLifecycleTimer = "$lifecycle";
inline constexpr int64_t kDayUs = 86'400'000'000;

// Sets trigger `trigger`'s timer to `due`, or clears it (nullopt).
struct TimerChange {
  std::string trigger;
  std::optional<int64_t> due;
};

// The changes that bring a profile's `stored` timers in line with `engine`'s rules at `now_us`:
// a stored anniversary or schedule timer that is still an occurrence stays (so one missed while
// the daemon was down still fires); a stale or missing one is set to the next occurrence — with
// `late_ok`, one that passed within the trigger's grace included (a zone or rule change must not
// skip it); the daily re-evaluation timer is added, a day from now, when missing and the rules
// need it (NeedsDailyReevaluation). A schedule trigger naming a segment has a timer only while
// the profile is a member (armed on entering, cleared on leaving: the sweep touches members
// only): with `membership_known` (`profile.metrics` holds "$segments" as evaluated) a member
// gets one and a non-member loses it; without (a re-arm from anchors) a stored one is only
// moved, never added. Of `profile` only the date fields the triggers name, the time zone and
// (with `membership_known`) the segments are read.
std::vector<TimerChange> RearmTimers(const rules::Engine& engine,
                                     const rules::ProfileFacts& profile,
                                     const std::vector<store::TimerRow>& stored, int64_t now_us,
                                     bool late_ok, bool membership_known);

// The profile's "$segments" bookkeeping (rules/engine.h); null when it has none.
const nlohmann::json* SegmentCounts(const rules::ProfileFacts& profile);

// Whether that bookkeeping says it is in `segment`.
bool InSegment(const rules::ProfileFacts& profile, std::string_view segment);

// Whether profiles need the daily re-evaluation timer: the rules have lifecycle stages,
// segments or rule-driven tags (time-driven conditions, and predictions that decay without
// events).
bool NeedsDailyReevaluation(const rules::RuleSet& rules);

// The facts the engine's occurrence computations read, from a profile's anchors and zone: each
// anchored field as the date its anchor stands for (store/anchor_date.h).
rules::ProfileFacts AnchoredFacts(const store::TimerInputs& in);

}  // namespace portrait::daemon
