#include "rules/engine.h"

#include <date/tz.h>

#include "base/time_format.h"
#include "rules/calendar.h"
#include "rules/purchase_book.h"
#include "rules/reads.h"

namespace portrait::rules {
namespace {

int32_t BirthDays(const nlohmann::json& fields, const std::string& field) {
  int32_t days = INT32_MIN;
  auto it = fields.find(field);
  if (it != fields.end() && it->is_string()) {
    ParseIsoDate(it->get_ref<const std::string&>(), &days);
  }
  return days;
}

// An absence timer follows the events' times, not their arrival order: it is armed for the
// latest `after` event (time A, due A + within) unless a `missing` event at or after A exists.
// Both latest times are kept in the metrics under "$absence", so a late event of either kind is
// judged against what came before it in time. Returns the timer change `event` makes, if any.
std::optional<TimerOp> AbsenceStep(const Trigger& t, const EventInput& event,
                                   nlohmann::json& metrics) {
  const bool is_after = event.type == t.after;
  if (!is_after && event.type != t.missing) {
    return std::nullopt;
  }
  if (!metrics["$absence"].is_object()) {
    metrics["$absence"] = nlohmann::json::object();
  }
  nlohmann::json& state = metrics["$absence"][t.id];
  if (!state.is_object()) {
    state = nlohmann::json::object();
  }
  const std::optional<int64_t> after = IntegerAt(state, "after");
  const std::optional<int64_t> missing = IntegerAt(state, "missing");
  if (is_after) {
    if (after && *after >= event.time_us) {
      return std::nullopt;  // an older (or the same) `after`: the timer stays as it is
    }
    state["after"] = event.time_us;
    if (missing && *missing >= event.time_us) {
      return std::nullopt;  // already answered by a later `missing`
    }
    return TimerOp{TimerOp::Kind::kArm, &t, event.time_us + t.within_us};
  }
  if (missing && *missing >= event.time_us) {
    return std::nullopt;  // a later `missing` was seen: it decided already
  }
  state["missing"] = event.time_us;
  if (after && event.time_us >= *after) {
    return TimerOp{TimerOp::Kind::kDisarm, &t, 0};
  }
  return std::nullopt;
}

}  // namespace

Engine::Engine(const RuleSet& rules, std::string default_timezone)
    : rules_(rules), default_timezone_(std::move(default_timezone)) {
  for (const Trigger& t : rules_.triggers) {
    if (t.kind == TriggerKind::kEvent) {
      by_event_[t.event_type].push_back(&t);
    } else if (t.kind == TriggerKind::kAbsence) {
      absence_.push_back(&t);
    } else if (t.kind == TriggerKind::kLifecycle) {
      lifecycle_.push_back(&t);
    } else if (t.kind == TriggerKind::kSegment) {
      segment_.push_back(&t);
    }
  }
}

const std::string& Engine::ZoneOf(const ProfileFacts& profile) const {
  return profile.timezone.empty() ? default_timezone_ : profile.timezone;
}

Facts Engine::FactsOf(const ProfileFacts& profile, const EventFacts* event, int64_t now_us) const {
  Facts f;
  f.fields = &profile.fields;
  f.field_source = profile.field_source;
  f.metrics = &profile.metrics;
  f.tags = &profile.tags;
  f.lifecycle = profile.lifecycle;
  f.timezone = ZoneOf(profile);
  f.event = event;
  f.now_us = now_us;
  if (profile.metrics.is_object()) {
    auto tags = profile.metrics.find("$tags");
    f.rule_tags = tags == profile.metrics.end() ? nullptr : &*tags;
    auto segments = profile.metrics.find("$segments");
    f.segments = segments == profile.metrics.end() ? nullptr : &*segments;
  }
  f.scores = &profile.scores;
  f.predictions = &profile.predictions;
  return f;
}

std::string Engine::Stage(const Facts& facts) const {
  for (const LifecycleStage& s : rules_.lifecycle) {
    if (Holds(s.when, facts)) {
      return s.stage;
    }
  }
  return "";
}

std::string Engine::DedupeKey(const Trigger& t, const ProfileFacts& profile, int64_t at_us,
                              const std::string& occurrence) const {
  std::string key;
  key.reserve(t.id.size() + occurrence.size() + 24);
  key.append(t.id).append("|").append(std::to_string(profile.id));
  if (t.once == Once::kEvery) {
    return key.append("|").append(occurrence);
  }
  if (t.once == Once::kPerProfile) {
    return key;
  }
  std::string day = FormatDate(LocalDay(at_us, ZoneOf(profile)));
  return key + "|" +
         (t.once == Once::kPerYear    ? day.substr(0, 4)
          : t.once == Once::kPerMonth ? day.substr(0, 7)
                                      : day);
}

void Engine::LifecycleFirings(const ProfileFacts& profile, const Facts& facts,
                              const std::string& from, const std::string& to, int64_t now_us,
                              std::vector<Firing>& out) const {
  for (const Trigger* t : lifecycle_) {
    if ((!t->from.empty() && t->from != from) || (!t->to.empty() && t->to != to)) {
      continue;
    }
    if ((t->when && !Holds(*t->when, facts)) || Excluded(*t, profile)) {
      continue;
    }
    out.push_back(Firing{
        t, DedupeKey(*t, profile, now_us, from + ">" + to + "@" + std::to_string(now_us)), now_us});
  }
}

EventOutcome Engine::OnEvent(const ProfileFacts& profile, const EventInput& event,
                             int64_t now_us) const {
  EventOutcome out;
  EventFacts ef{event.type, event.time_us, &event.data};
  ProfileFacts after = profile;
  ApplyEvent(rules_.metrics, ef, after.metrics);
  for (const Model& m : rules_.models) {
    RecordPurchase(m, ef, after.metrics);
  }
  if (after.derived) {
    after.derived->Fill(after, now_us);
  }
  UpdateTags(after, now_us);
  out.lifecycle = Stage(FactsOf(after, &ef, now_us));
  if (out.lifecycle != profile.lifecycle) {
    out.stage_change = std::make_pair(profile.lifecycle, out.lifecycle);
    after.lifecycle = out.lifecycle;
  }
  out.transitions = UpdateSegments(after, now_us);
  const Facts facts = FactsOf(after, &ef, now_us);
  if (auto it = by_event_.find(event.type); it != by_event_.end()) {
    out.fired.reserve(it->second.size());
    for (const Trigger* t : it->second) {
      if ((!t->when || Holds(*t->when, facts)) && !Excluded(*t, after)) {
        out.fired.push_back(Firing{t, DedupeKey(*t, after, now_us, event.id), now_us});
      }
    }
  }
  if (out.stage_change) {
    Facts no_event = FactsOf(after, nullptr, now_us);
    LifecycleFirings(after, no_event, profile.lifecycle, out.lifecycle, now_us, out.fired);
  }
  for (Firing& f : SegmentFirings(after, out.transitions, now_us)) {
    out.fired.push_back(std::move(f));
  }
  for (const Trigger* t : absence_) {
    if (std::optional<TimerOp> op = AbsenceStep(*t, event, after.metrics)) {
      out.timers.push_back(*op);
    }
  }
  out.metrics = std::move(after.metrics);
  return out;
}

EventOutcome Engine::Reevaluate(const ProfileFacts& profile, int64_t now_us) const {
  EventOutcome out;
  ProfileFacts after = profile;
  if (after.derived) {
    after.derived->Fill(after, now_us);
  }
  UpdateTags(after, now_us);
  out.lifecycle = Stage(FactsOf(after, nullptr, now_us));
  if (out.lifecycle != profile.lifecycle) {
    out.stage_change = std::make_pair(profile.lifecycle, out.lifecycle);
    after.lifecycle = out.lifecycle;
  }
  out.transitions = UpdateSegments(after, now_us);
  if (out.stage_change) {
    const Facts facts = FactsOf(after, nullptr, now_us);
    LifecycleFirings(after, facts, profile.lifecycle, out.lifecycle, now_us, out.fired);
  }
  for (Firing& f : SegmentFirings(after, out.transitions, now_us)) {
    out.fired.push_back(std::move(f));
  }
  out.metrics = std::move(after.metrics);
  return out;
}

std::optional<int64_t> Engine::NextRun(const Trigger& trigger, int64_t after_us) const {
  const date::time_zone* zone = FindZone(default_timezone_);
  return zone ? NextCron(trigger.cron, zone, after_us) : std::nullopt;
}

std::vector<TimerOp> Engine::AnniversaryTimers(const ProfileFacts& profile,
                                               int64_t after_us) const {
  std::vector<TimerOp> out;
  const date::time_zone* zone = FindZone(ZoneOf(profile));
  for (const Trigger& t : rules_.triggers) {
    if (t.kind != TriggerKind::kAnniversary || !zone) {
      continue;
    }
    int32_t born = BirthDays(profile.fields, t.field);
    if (born == INT32_MIN) {
      continue;
    }
    if (auto next = NextAnniversary(born, t.anniversary, zone, after_us)) {
      out.push_back(TimerOp{TimerOp::Kind::kArm, &t, next->fire_us});
    }
  }
  return out;
}

std::optional<int64_t> Engine::NextOccurrence(const ProfileFacts& profile, const Trigger& t,
                                              int64_t after_us) const {
  if (t.kind == TriggerKind::kSchedule) {
    return NextRun(t, after_us);
  }
  const date::time_zone* zone = FindZone(ZoneOf(profile));
  const int32_t born = BirthDays(profile.fields, t.field);
  if (t.kind != TriggerKind::kAnniversary || !zone || born == INT32_MIN) {
    return std::nullopt;
  }
  auto next = NextAnniversary(born, t.anniversary, zone, after_us);
  return next ? std::optional(next->fire_us) : std::nullopt;
}

TimerOutcome Engine::OnTimer(const ProfileFacts& profile, const Trigger& t, int64_t due_us,
                             int64_t now_us) const {
  TimerOutcome out;
  std::string occurrence = std::to_string(due_us);
  if (t.kind == TriggerKind::kAnniversary) {
    const date::time_zone* zone = FindZone(ZoneOf(profile));
    int32_t born = BirthDays(profile.fields, t.field);
    if (!zone || born == INT32_MIN) {
      out.reason = "fields." + t.field + " is missing";
      return out;
    }
    auto occ = NextAnniversary(born, t.anniversary, zone, due_us - 1);
    if (!occ || occ->fire_us != due_us) {
      // A stale timer (the date, the zone or the trigger changed): replaced by the occurrence
      // the profile has now, which may be due at once when it passed within the grace.
      out.reason = "the date changed; no occurrence is due at this instant";
      if (auto next = NextAnniversary(born, t.anniversary, zone, now_us - t.grace_us - 1)) {
        out.next = next->fire_us;
      }
      return out;
    }
    occurrence = FormatDate(occ->date_days);
    if (auto next = NextAnniversary(born, t.anniversary, zone, std::max(due_us, now_us))) {
      out.next = next->fire_us;
    }
  } else if (t.kind == TriggerKind::kSchedule) {
    if (NextRun(t, due_us - 1) != due_us) {
      out.reason = "the schedule changed; no run is due at this instant";
      out.next = NextRun(t, now_us);
      return out;
    }
    out.next = NextRun(t, std::max(due_us, now_us));
  }
  if (now_us - due_us > t.grace_us) {
    out.reason = "missed by more than its grace";
    return out;
  }
  Facts facts = FactsOf(profile, nullptr, now_us);
  if (!t.segment.empty() && !IsMember(facts.segments, t.segment)) {
    out.reason = "not a member of segment '" + t.segment + "'";
    return out;
  }
  if (t.when && !Holds(*t.when, facts)) {
    out.reason = rules::Explain(*t.when, t.when_source, facts);
    return out;
  }
  if (Excluded(t, profile)) {
    out.reason = "the customer objected to personalisation, and this trigger profiles";
    return out;
  }
  out.fired = Firing{&t, DedupeKey(t, profile, due_us, occurrence), now_us};
  return out;
}

std::optional<TaskPayload> Engine::Payload(const Trigger& t, const ProfileFacts& profile,
                                           int64_t now_us, bool personalise) const {
  TaskPayload p;
  Facts facts = FactsOf(profile, nullptr, now_us);
  if (!personalise) {
    if (!t.message_plain) {
      return std::nullopt;
    }
    p.message = Render(*t.message_plain, facts, t.vars);
    p.personalised = false;
    return p;
  }
  p.message = Render(t.message, facts, t.vars);
  for (const std::string& f : t.fields) {
    if (auto it = profile.fields.find(f); it != profile.fields.end()) {
      p.fields[f] = *it;
    }
  }
  return p;
}

// Why an anniversary or schedule trigger does (`key` set) or does not fire at `at_us`.
std::string Engine::ExplainTimed(const Trigger& t, const ProfileFacts& after, int64_t at_us,
                                 std::optional<std::string>& key) const {
  std::optional<int64_t> due;
  if (t.kind == TriggerKind::kSchedule) {
    due = NextRun(t, at_us - 60'000'000);
  } else {
    for (const TimerOp& op : AnniversaryTimers(after, at_us - 60'000'000)) {
      if (op.trigger == &t) {
        due = op.due_us;
      }
    }
  }
  if (!due) {
    return t.kind == TriggerKind::kAnniversary ? "fields." + t.field + " is missing"
                                               : "the schedule never runs";
  }
  if (*due > at_us) {
    return "not due: next at " + FormatRfc3339(*due);
  }
  TimerOutcome o = OnTimer(after, t, *due, at_us);
  if (o.fired) {
    key = o.fired->dedupe_key;
  }
  return o.reason;
}

namespace {

// The first field the trigger's decision reads (also through segments and rule-driven tags)
// that `scope` may not read in clear, if any.
std::optional<std::string> UnreadableField(const Trigger& t, const RuleSet& rules,
                                           const ExplainScope& scope) {
  std::vector<std::pair<std::string, int>> read;
  std::vector<DerivedRead> derived;
  if (t.when) {
    CollectFields(*t.when, read);
    CollectDerived(*t.when, derived);
  }
  if (!t.segment.empty()) {
    derived.push_back({"segments", t.segment, 0, ""});
  }
  if (t.kind == TriggerKind::kLifecycle) {
    derived.push_back({"lifecycle", "", 0, ""});
  }
  for (const DerivedRead& d : derived) {
    for (const IndirectRead& i : ReadsThrough(d, rules)) {
      if (!i.field.empty()) {
        read.emplace_back(i.field, 0);
      }
    }
  }
  if (t.kind == TriggerKind::kAnniversary) {
    read.emplace_back(t.field, 0);
  }
  for (const auto& [field, offset] : read) {
    if (!scope.reads_in_clear || !scope.reads_in_clear(field)) {
      return field;
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

std::optional<std::string> FiredKey(const EventOutcome& applied, const Trigger& t) {
  for (const Firing& f : applied.fired) {
    if (f.trigger == &t) {
      return f.dedupe_key;
    }
  }
  return std::nullopt;
}

// Why an event or lifecycle trigger did not fire on what was applied.
std::string WhyNotFired(const Trigger& t, const EventOutcome& applied, const std::string& stage,
                        const EventInput* event, const Facts& facts) {
  if (t.kind == TriggerKind::kEvent && (!event || event->type != t.event_type)) {
    return "needs an event of type " + t.event_type;
  }
  if (t.kind == TriggerKind::kLifecycle && !applied.stage_change) {
    return "no lifecycle change (stage stays '" + stage + "')";
  }
  if (t.kind == TriggerKind::kSegment) {
    return std::string("the profile does not ") + (t.enter ? "enter" : "leave") + " segment '" +
           t.segment + "' now";
  }
  if (t.kind == TriggerKind::kLifecycle) {
    return "the change " + applied.stage_change->first + " -> " + applied.stage_change->second +
           " is not " + t.from + " -> " + t.to;
  }
  return t.when ? rules::Explain(*t.when, t.when_source, facts) : "does not fire";
}

std::string ExplainAbsence(const Trigger& t, const EventInput* event) {
  if (event && event->type == t.after) {
    return "arms a timer due " + FormatRfc3339(event->time_us + t.within_us) +
           " (fires then unless " + t.missing + " arrives)";
  }
  if (event && event->type == t.missing) {
    return "disarms its timer";
  }
  return "waits for an event of type " + t.after;
}

}  // namespace

Explanation Engine::ExplainTrigger(const Trigger& t, const Explaining& x) const {
  Explanation e;
  e.trigger = t.id;
  if (std::optional<std::string> hidden = UnreadableField(t, rules_, x.scope)) {
    e.evaluated = false;
    e.reason = "not evaluated for this role: it reads fields." + *hidden +
               ", which this role does not read in clear for this purpose";
    return e;
  }
  if (Excluded(t, x.after)) {
    e.reason = "does not fire: the customer objected to personalisation, and this trigger profiles";
    return e;
  }
  std::optional<std::string> key;
  switch (t.kind) {
    case TriggerKind::kEvent:
    case TriggerKind::kLifecycle:
    case TriggerKind::kSegment:
      key = FiredKey(x.applied, t);
      if (!key) {
        e.reason = WhyNotFired(t, x.applied, x.after.lifecycle, x.event, x.facts);
      }
      break;
    case TriggerKind::kAbsence:
      e.reason = ExplainAbsence(t, x.event);
      break;
    case TriggerKind::kAnniversary:
    case TriggerKind::kSchedule:
      e.reason = ExplainTimed(t, x.after, x.at_us, key);
      break;
  }
  if (key) {
    e.fires = !x.dedupe_used || !x.dedupe_used(*key);
    e.reason = e.fires ? "fires (dedupe key " + *key + ")"
                       : "already fired for this occurrence (dedupe key " + *key + ")";
  }
  return e;
}

std::vector<Explanation> Engine::Explain(const ProfileFacts& profile, const EventInput* event,
                                         int64_t at_us,
                                         const std::function<bool(const std::string&)>& dedupe_used,
                                         const ExplainScope& scope) const {
  EventOutcome applied;
  ProfileFacts after = profile;
  EventFacts ef;
  if (event) {
    applied = OnEvent(profile, *event, at_us);
    ef = EventFacts{event->type, event->time_us, &event->data};
  } else {
    applied = Reevaluate(profile, at_us);
  }
  after.metrics = applied.metrics;
  after.lifecycle = applied.lifecycle;
  if (after.derived) {
    after.derived->Fill(after, at_us);
  }
  const Facts facts = FactsOf(after, event ? &ef : nullptr, at_us);
  const Explaining x{applied, after, event, facts, at_us, dedupe_used, scope};
  std::vector<Explanation> out;
  for (const Trigger& t : rules_.triggers) {
    if (scope.purpose.empty() || t.purpose == scope.purpose) {
      out.push_back(ExplainTrigger(t, x));
    }
  }
  return out;
}

}  // namespace portrait::rules
