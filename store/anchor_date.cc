#include "store/anchor_date.h"

#include <date/date.h>

#include <cstdio>

namespace portrait::store {
namespace {

constexpr int kYearlessStandIn = 1904;

std::optional<date::year_month_day> Parse(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  int v[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lens[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = 0; i < lens[f]; ++i) {
      const char c = text[starts[f] + i];
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      v[f] = v[f] * 10 + (c - '0');
    }
  }
  const date::year_month_day ymd{date::year(v[0]), date::month(static_cast<unsigned>(v[1])),
                                 date::day(static_cast<unsigned>(v[2]))};
  return ymd.ok() ? std::optional(ymd) : std::nullopt;
}

}  // namespace

std::optional<AnchorDate> AnchorOf(std::string_view iso_date, int64_t now_us) {
  const std::optional<date::year_month_day> ymd = Parse(iso_date);
  if (!ymd) {
    return std::nullopt;
  }
  const date::sys_days today = date::floor<date::days>(
      date::sys_time<std::chrono::microseconds>(std::chrono::microseconds(now_us)));
  const int this_year = static_cast<int>(date::year_month_day(today).year());
  const int year = static_cast<int>(ymd->year());
  return AnchorDate{year >= this_year - kAnchorYearsKept ? year : 0,
                    static_cast<int>(static_cast<unsigned>(ymd->month())),
                    static_cast<int>(static_cast<unsigned>(ymd->day()))};
}

void AddAnchorChanges(const config::Config& config, const std::map<std::string, CheckedValue>& set,
                      const std::vector<std::string>& removed, ProfileWrite& w) {
  auto is_date = [&](const std::string& name) {
    const config::Field* field = config.FindField(name);
    return field && field->type == config::FieldType::kDate;
  };
  for (const std::string& name : removed) {
    if (is_date(name)) {
      w.anchors[name] = std::nullopt;
    }
  }
  for (const auto& [name, checked] : set) {
    if (is_date(name)) {
      w.anchors[name] =
          checked.value.is_string()
              ? AnchorOf(checked.value.get_ref<const std::string&>(), w.row.updated_us)
              : std::nullopt;
    }
  }
}

std::string AnchorIsoDate(const AnchorDate& anchor) {
  const int year = anchor.year == 0 ? kYearlessStandIn : anchor.year;
  if (year < 1 || year > 9999 || anchor.month < 1 || anchor.month > 12 || anchor.day < 1 ||
      anchor.day > 31) {
    return "";
  }
  const date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(anchor.month)),
                                 date::day(static_cast<unsigned>(anchor.day))};
  if (!ymd.ok()) {
    return "";
  }
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, anchor.month, anchor.day);
  return text;
}

}  // namespace portrait::store
