// Engine: given rules, answers what happens to one profile when an event arrives, when a timer
// comes due, or when its lifecycle is re-evaluated — which triggers fire (with their dedupe
// keys), which timers to arm or disarm and when each is next due — and explains, for a dry
// run, why each trigger would or would not fire. Pure: no I/O, no threads, no clock of its own
// (instants are passed in). Const methods; thread-safe.
//
// Dedupe keys are trigger + profile + occurrence: the event id (event), the timer's due instant
// (absence, schedule), the anniversary's date (anniversary), the transition (lifecycle); `once`
// widens the occurrence to the profile, or the year, month or day of the firing in the profile's
// time zone. A segment trigger's occurrence is the transition: the segment, enter or exit, and
// its number among the profile's transitions of that segment (see UpdateSegments).
//
// The portrait (rule-driven tags and segment membership) is bookkeeping kept inside the metrics
// object, like "$absence", so it is stored wherever the metrics are: "$tags" holds the paths of
// the [[tag]] rules that held after the last change (tags set through the API stay apart, in
// ProfileFacts::tags; has_tag() and `tags` see both), and "$segments" maps each segment to the
// number of times the profile entered or left it (odd: a member now). "$purchases" holds each
// [[model]]'s purchase book (rules/purchase_book.h), from which its predictions are computed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/evaluator.h"
#include "rules/rule_set.h"

namespace portrait::rules {

struct ProfileFacts;

// Computes a profile's scores and predictions from its metrics (their inputs: the score's
// metrics, the "$purchases" books) and the fitted parameters in force, at `now_us`: the daemon
// implements it over analytics/ (docs/DECISIONS.md 100, 103). The engine calls it whenever the
// metrics may have changed, so a profile's own triggers, tags and segments see the scores and
// predictions after the event.
class DerivedValues {
 public:
  virtual ~DerivedValues() = default;
  // Replaces `profile.scores` and `profile.predictions`.
  virtual void Fill(ProfileFacts& profile, int64_t now_us) const = 0;
};

struct ProfileFacts {
  int64_t id = 0;
  nlohmann::json fields = nlohmann::json::object();
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<std::string> tags;
  std::string lifecycle;
  std::string timezone;                                   // empty: the engine's default
  nlohmann::json scores = nlohmann::json::object();       // computed elsewhere: NAME -> {r,...}
  nlohmann::json predictions = nlohmann::json::object();  // computed elsewhere: NAME -> {...}
  // The customer objected to personalisation (the ledger's opt-out, on any channel): left out of
  // marketing segments, and profiling triggers (Trigger::profiling) never fire for them.
  bool objected_to_personalisation = false;
  // Fills scores and predictions after each change (none: they stay as given). Not owned.
  const DerivedValues* derived = nullptr;
  // When set, conditions read the fields through it instead of `fields` (opened on demand;
  // Facts::field_source). Not owned.
  const FieldSource* field_source = nullptr;
};

// The profile entered (or left) `segment`; its `number`-th transition of that segment.
struct SegmentTransition {
  std::string segment;
  bool enter = true;
  int64_t number = 0;
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
  std::vector<SegmentTransition> transitions;  // also recorded in metrics["$segments"]
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

  // Re-evaluates the rule-driven tags, the lifecycle stage and the segments at `now_us`: after a
  // change that is not an event (fields, API tags, scores, predictions, the objection, rules) and
  // in the daily sweep for time-driven conditions. Fires lifecycle and segment triggers.
  EventOutcome Reevaluate(const ProfileFacts& profile, int64_t now_us) const;

  // The paths of the [[tag]] rules that hold for the profile.
  std::vector<std::string> RuleTags(const ProfileFacts& profile, int64_t now_us) const;
  // The segments the profile is in now (its rule-driven tags recomputed, its stage as given), in
  // dependency order. No side effects.
  std::vector<std::string> Segments(const ProfileFacts& profile, int64_t now_us) const;
  // Recomputes metrics["$tags"] of `profile`.
  void UpdateTags(ProfileFacts& profile, int64_t now_us) const;
  // Recomputes metrics["$segments"] of `profile` in dependency order (each segment sees the
  // membership of those it names as just computed); returns the transitions. Re-running it on the
  // same facts after a crash that lost its result yields the same transition numbers, hence the
  // same dedupe keys: a re-fire is a duplicate; a later real re-entry has a new number.
  std::vector<SegmentTransition> UpdateSegments(ProfileFacts& profile, int64_t now_us) const;
  // The on.segment firings of `transitions` for the profile (as it is after them), each once.
  std::vector<Firing> SegmentFirings(const ProfileFacts& after,
                                     const std::vector<SegmentTransition>& transitions,
                                     int64_t now_us) const;
  // Whether `trigger` is profiling the customer against their objection.
  static bool Excluded(const Trigger& trigger, const ProfileFacts& profile);

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
  std::vector<const Trigger*> segment_;  // on.segment triggers
};

}  // namespace portrait::rules
