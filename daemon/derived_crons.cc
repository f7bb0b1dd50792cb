#include "daemon/derived_crons.h"

#include "rules/calendar.h"

namespace portrait::daemon {

void DerivedCrons::Plan(const LoadedRules& rules, int64_t now_us) {
  entries_.clear();
  const date::time_zone* zone = rules::FindZone(rules.config->daemon.timezone);
  auto next = [&](const std::optional<rules::CronSpec>& cron) -> int64_t {
    return cron && zone ? rules::NextCron(*cron, zone, now_us).value_or(0) : 0;
  };
  for (const rules::Model& m : rules.set.models) {
    entries_.push_back(Entry{true, m.name, next(m.refresh)});
  }
  for (const rules::Score& s : rules.set.scores) {
    entries_.push_back(Entry{false, s.name, next(s.refresh)});
  }
  planned_for_ = rules.fingerprint;
}

void DerivedCrons::Tick() {
  const std::shared_ptr<const LoadedRules> rules = d_.rules.Get();
  const int64_t now = d_.clock.NowUs();
  if (rules->fingerprint != planned_for_) {
    Plan(*rules, now);
  }
  const date::time_zone* zone = rules::FindZone(rules->config->daemon.timezone);
  for (Entry& e : entries_) {
    if (e.next_us == 0 || e.next_us > now) {
      continue;
    }
    const std::optional<rules::CronSpec>& cron = e.is_model
                                                     ? FindModel(rules->set, e.name)->refresh
                                                     : FindScore(rules->set, e.name)->refresh;
    e.next_us = zone ? rules::NextCron(*cron, zone, now).value_or(0) : 0;
    Run(e);
  }
}

void DerivedCrons::Run(const Entry& e) {
  d_.jobs.Post(
      [this, is_model = e.is_model, name = e.name](bool stopping) {
        if (stopping) {
          return;
        }
        auto done = is_model ? models_.FitNow("system", "", name, FitOptions{})
                             : scores_.RefreshNow("system", "", name);
        if (!done) {
          d_.log.warn("the scheduled {} of '{}' failed: {}", is_model ? "fit" : "refresh", name,
                      done.error().message());
        }
      },
      e.is_model ? ModelJobKey(e.name) : ScoreJobKey(e.name));
}

}  // namespace portrait::daemon
