#include "daemon/timer_rearm.h"

#include <map>

#include "store/anchor_date.h"

namespace portrait::daemon {

const nlohmann::json* SegmentCounts(const rules::ProfileFacts& profile) {
  if (!profile.metrics.is_object()) {
    return nullptr;
  }
  auto it = profile.metrics.find("$segments");
  return it == profile.metrics.end() ? nullptr : &*it;
}

bool InSegment(const rules::ProfileFacts& profile, std::string_view segment) {
  return rules::IsMember(SegmentCounts(profile), segment);
}

bool NeedsDailyReevaluation(const rules::RuleSet& rules) {
  return !rules.lifecycle.empty() || !rules.segments.empty() || !rules.tags.empty();
}

std::vector<TimerChange> RearmTimers(const rules::Engine& engine,
                                     const rules::ProfileFacts& profile,
                                     const std::vector<store::TimerRow>& stored, int64_t now_us,
                                     bool late_ok, bool membership_known) {
  std::map<std::string_view, int64_t> due_of;
  for (const store::TimerRow& t : stored) {
    due_of.emplace(t.trigger, t.due_us);
  }
  std::vector<TimerChange> changes;
  for (const rules::Trigger& t : engine.rules().triggers) {
    if (t.kind != rules::TriggerKind::kAnniversary && t.kind != rules::TriggerKind::kSchedule) {
      continue;
    }
    auto it = due_of.find(t.id);
    if (!t.segment.empty() && it == due_of.end() &&
        !(membership_known && InSegment(profile, t.segment))) {
      continue;  // not a member (or not known to be): no timer to set
    }
    if (!t.segment.empty() && it != due_of.end() && membership_known &&
        !InSegment(profile, t.segment)) {
      changes.push_back(TimerChange{t.id, std::nullopt});
      continue;
    }
    if (it != due_of.end() && engine.NextOccurrence(profile, t, it->second - 1) == it->second) {
      continue;
    }
    std::optional<int64_t> due =
        engine.NextOccurrence(profile, t, late_ok ? now_us - t.grace_us - 1 : now_us);
    if (due != (it == due_of.end() ? std::nullopt : std::optional(it->second))) {
      changes.push_back(TimerChange{t.id, due});
    }
  }
  if (!due_of.count(kLifecycleTimer) && NeedsDailyReevaluation(engine.rules())) {
    changes.push_back(TimerChange{std::string(kLifecycleTimer), now_us + kDayUs});
  }
  return changes;
}

rules::ProfileFacts AnchoredFacts(const store::TimerInputs& in) {
  rules::ProfileFacts facts;
  facts.id = in.profile_id;
  facts.timezone = in.timezone;
  for (const auto& [field, anchor] : in.anchors) {
    std::string date = store::AnchorIsoDate(anchor);
    if (!date.empty()) {
      facts.fields[field] = std::move(date);
    }
  }
  return facts;
}

}  // namespace portrait::daemon
