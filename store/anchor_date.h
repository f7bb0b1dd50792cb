// Anniversary anchors (store.h AnchorDate): the plain part of a date field's value that its
// anniversary timers need, made when the field is written and read back as a date for the
// rules engine by the re-arm. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/field_value.h"
#include "store/store.h"

namespace portrait::store {

// How many years before the year of writing a date's year is still kept.
inline constexpr int kAnchorYearsKept = 2;

// The anchor of `iso_date` ("YYYY-MM-DD", a date field's canonical value) written at `now_us`:
// month and day, and the year when it is at most kAnchorYearsKept years before now's (UTC), else
// 0; nullopt when `iso_date` is not a valid date.
std::optional<AnchorDate> AnchorOf(std::string_view iso_date, int64_t now_us);

// Adds to `w` the anchor changes of a write that sets `set` and removes `removed`: for each
// date field of `config` among them, its new anchor (as of w.row.updated_us) or its removal.
void AddAnchorChanges(const config::Config& config, const std::map<std::string, CheckedValue>& set,
                      const std::vector<std::string>& removed, ProfileWrite& w);

// The date ("YYYY-MM-DD") the anchor stands for: its own year, or, without one, 1904 (a leap
// year, so 29 February stays a date). For any instant no more than kAnchorYearsKept years
// before the anchor was written, the yearly occurrences after it of this date and of the field's
// value are the same (rules/calendar.h NextAnniversary skips only the years before the date's).
// Empty when the anchor is no date (a hostile store).
std::string AnchorIsoDate(const AnchorDate& anchor);

}  // namespace portrait::store
