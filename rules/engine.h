// Engine: given rules, answers what happens to one profile when an event arrives, when a timer
// comes due, or when its lifecycle is re-evaluated — which triggers fire (with their dedupe
// keys), which timers to arm or disarm and when each is next due — and explains, for a dry
// run, why each trigger would or would not fire. Pure: no I/O, no threads, no clock of its own
// (instants are passed in). Const methods; thread-safe.
//
// Dedupe keys are trigger + profile + occurrence: the event id (event), the timer's due instant
// (absence, schedule), the anniversary's date (anniversary), the transition (lifecycle); `once`
// widens the occurrence to the profile, or the year, month or day of the firing in the profile's
// time zone.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/evaluator.h"
#include "rules/rule_set.h"

namespace portrait::rules {

struct ProfileFacts {
  int64_t id = 0;
  nlohmann::json fields = nlohmann::json::object();
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<std::string> tags;
  std::string lifecycle;
  std::string timezone;  // empty: the engine's default
};

struct EventInput {
  std::string id;
  std::string type;
  int64_t time_us = 0;
  nlohmann::json data = nlohmann::json::object();
};

struct Firing {
  const Trigger* trigger = nullptr;
  std::string dedupe_key;
  int64_t at_us = 0;
};

struct TimerOp {
  enum class Kind { kArm, kDisarm };
  Kind kind = Kind::kArm;
  const Trigger* trigger = nullptr;
  int64_t due_us = 0;  // kArm
};

struct EventOutcome {
  nlohmann::json metrics;  // after the event
  std::string lifecycle;   // the stage after the event ("" if no stage matches)
  std::optional<std::pair<std::string, std::string>> stage_change;  // from, to
  std::vector<Firing> fired;
  std::vector<TimerOp> timers;
};

struct TimerOutcome {
  std::optional<Firing> fired;
  std::string reason;           // why it did not fire
  std::optional<int64_t> next;  // when this trigger's timer is next due (re-arm)
};

struct Explanation {
  std::string trigger;
  bool evaluated = true;  // false: not evaluated for the caller (`fires` then means nothing)
  bool fires = false;
  std::string reason;
};

// Whom a dry run explains to. Only triggers of `purpose` are explained (empty: every purpose —
// for tools, never for an API caller). A trigger whose decision reads a field (its `when`, its
// anniversary date) that `reads_in_clear` refuses is not evaluated at all: its explanation says
// so and carries no truth value, no missing/false verdict and no date, since each would answer
// a question about a value the caller may not read.
struct ExplainScope {
  std::string purpose;
  std::function<bool(std::string_view field)> reads_in_clear;
};

// What a fired trigger sends: the rendered message and the trigger's declared fields only.
struct TaskPayload {
  std::string message;
  nlohmann::json fields = nlohmann::json::object();
  bool personalised = true;
};

class Engine {
 public:
  // `rules` must outlive the engine; `default_timezone` is the config's.
  Engine(const RuleSet& rules, std::string default_timezone);

  // Applies `event` to the profile: metrics, lifecycle, event and lifecycle triggers, absence
  // timers.
  EventOutcome OnEvent(const ProfileFacts& profile, const EventInput& event, int64_t now_us) const;

  // Re-evaluates the lifecycle stage at `now_us` (the daily sweep for time-driven stages).
  EventOutcome Reevaluate(const ProfileFacts& profile, int64_t now_us) const;

  // A stored timer of `trigger` for the profile came due at `due_us`; it is now `now_us`. A
  // stale timer — `due_us` is no longer an occurrence of the trigger, because the date field,
  // the zone or the cron changed — does not fire; its `next` is the occurrence due now
  // (possibly already passed, within the trigger's grace, so it fires late rather than never).
  TimerOutcome OnTimer(const ProfileFacts& profile, const Trigger& trigger, int64_t due_us,
                       int64_t now_us) const;

  // The anniversary timers the profile should have, each next due after `after_us` (empty
  // for a trigger whose date field the profile lacks).
  std::vector<TimerOp> AnniversaryTimers(const ProfileFacts& profile, int64_t after_us) const;

  // The next occurrence of a timer trigger (anniversary or schedule) for the profile after
  // `after_us`, under the rules and zones in force; nullopt for other kinds, or when the
  // profile lacks the date field. A stored timer at T is stale unless this gives T for T - 1.
  std::optional<int64_t> NextOccurrence(const ProfileFacts& profile, const Trigger& trigger,
                                        int64_t after_us) const;

  // The next run of a schedule trigger after `after_us`, in the config's time zone.
  std::optional<int64_t> NextRun(const Trigger& trigger, int64_t after_us) const;

  // For every trigger in `scope`: would it fire for this profile (given this event, if any) at
  // `at_us`, and why (not). `dedupe_used` says whether a dedupe key was already used. No side
  // effects.
  std::vector<Explanation> Explain(const ProfileFacts& profile, const EventInput* event,
                                   int64_t at_us,
                                   const std::function<bool(const std::string&)>& dedupe_used,
                                   const ExplainScope& scope) const;

  // The task a firing carries. When `personalise` is false (the customer opted out), the
  // trigger's message_plain and no fields — or nullopt (suppressed) if it has none.
  std::optional<TaskPayload> Payload(const Trigger& trigger, const ProfileFacts& profile,
                                     int64_t now_us, bool personalise) const;

  std::string DedupeKey(const Trigger& trigger, const ProfileFacts& profile, int64_t at_us,
                        const std::string& occurrence) const;

  const RuleSet& rules() const { return rules_; }

 private:
  // What Explain computed once for all the triggers it explains.
  struct Explaining {
    const EventOutcome& applied;
    const ProfileFacts& after;
    const EventInput* event;
    const Facts& facts;
    int64_t at_us;
    const std::function<bool(const std::string&)>& dedupe_used;
    const ExplainScope& scope;
  };
  Explanation ExplainTrigger(const Trigger& t, const Explaining& x) const;
  Facts FactsOf(const ProfileFacts& profile, const EventFacts* event, int64_t now_us) const;
  std::string ExplainTimed(const Trigger& t, const ProfileFacts& after, int64_t at_us,
                           std::optional<std::string>& key) const;
  std::string Stage(const Facts& facts) const;
  const std::string& ZoneOf(const ProfileFacts& profile) const;
  void LifecycleFirings(const ProfileFacts& profile, const Facts& facts, const std::string& from,
                        const std::string& to, int64_t now_us, std::vector<Firing>& out) const;

  const RuleSet& rules_;
  std::string default_timezone_;
  std::unordered_map<std::string, std::vector<const Trigger*>> by_event_;
  std::vector<const Trigger*> absence_;
  std::vector<const Trigger*> lifecycle_;
};

}  // namespace portrait::rules
