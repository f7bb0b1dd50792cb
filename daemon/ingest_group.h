// IngestGroup: one writer transaction's working state — the profiles it opened (decrypted and
// keyed, each once), the timers it set, the segment-membership rows it changed and the batch —
// and the steps that fill it: applying an event, re-evaluating a profile, firing a trigger,
// re-arming timers. Commit seals every changed profile's state into the batch and commits it
// with its audit records. OpenProfiles keeps profiles open between groups. Writer thread only
// (the Ingestor's friend; see daemon/ingestor.h).
//
// A profile's facts carry the personalisation objection (consent ledger, purpose
// `personalisation`: an `objected` or `withdrawn` record in force on any channel) when the rules
// have a marketing segment or a profiling trigger; else the ledger is not read. The objection is
// read when the profile is opened: after a consent record, Forget the profile before
// re-evaluating it.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/ingestor.h"

namespace portrait::daemon {

// A profile held open by a group (and between groups): its stored state and the facts the
// engine reads.
struct Working {
  store::OpenProfile open;
  rules::ProfileFacts facts;
  bool dirty = false;
};

// Profiles kept open between groups, least recently used first out. The writer is the only
// writer of a profile's row, so what it holds stays true — except after an upsert, import,
// merge, consent record or key destruction, which call Ingestor::Forget.
class OpenProfiles {
 public:
  static constexpr size_t kCapacity = 10'000;

  std::unique_ptr<Working> TakeByKey(const std::string& ext_key);
  std::unique_ptr<Working> Take(store::ProfileId id);
  void Put(std::unique_ptr<Working> w);

 private:
  struct Entry {
    std::unique_ptr<Working> working;
    std::list<store::ProfileId>::iterator position;
  };
  std::unordered_map<store::ProfileId, Entry> entries_;
  std::unordered_map<std::string, store::ProfileId> by_key_;
  std::list<store::ProfileId> lru_;  // most recent first
};

// The facts the engine reads of `p` (no objection, no derived values' source yet).
rules::ProfileFacts FactsOf(store::Profile p);

// Whether the rules read the personalisation objection: a marketing segment or a profiling
// trigger.
bool ReadsObjection(const rules::RuleSet& rules);
// Whether the objection is in force in `ledger` at `now_us` (on any channel).
bool Objected(const std::vector<consent::ConsentRecord>& ledger, int64_t now_us);

class IngestGroup {
 public:
  IngestGroup(Ingestor& in, int64_t now_us);

  // The profile of `subject` (an external id or alias), opened or created (new: dirty, its
  // schedules and daily timer armed, evaluated once).
  Result<Working*> BySubject(const std::string& subject);
  // Holds `open` (a profile just written, as stored) for this group, so ById needs no unwrap
  // or decryption.
  void Adopt(store::OpenProfile open);
  // The open profile `id`, or nullptr when it no longer exists.
  Result<Working*> ById(store::ProfileId id);

  // Reads which of the requests' events are stored already, in one call.
  Status FindStored(const std::vector<const IngestRequest*>& requests);
  // Whether an event with this key was stored before or earlier in this group (FindStored
  // first).
  bool Duplicate(const std::string& key);

  // Applies event `e` to `w`; returns the tasks fired.
  Result<int> Apply(Working& w, const IncomingEvent& e);
  // Re-evaluates tags, stage and segments (time-driven conditions move without events).
  Result<int> Reevaluate(Working& w);
  // Stores what the engine decided: metrics, stage, timers, segment rows, tasks. Returns the
  // tasks fired.
  Result<int> ApplyOutcome(Working& w, rules::EventOutcome out);
  // Writes the task of firing `f` (pending or suppressed, as the ledger allows).
  Status Fire(Working& w, const rules::Firing& f);

  // Sets (or, with nullopt, clears) a timer; the last call for a (profile, trigger) wins.
  void SetTimer(store::ProfileId id, const std::string& trigger, std::optional<int64_t> due);
  // Sets (or drops) the members-index row of (segment, profile); the last call wins.
  void SetMember(const std::string& segment, store::ProfileId id, bool member);
  // Makes the members-index rows of `w` match its "$segments" for every segment of the rules,
  // given the rows `indexed` (segment names) stored for it. Returns the rows changed.
  int ReconcileMembers(Working& w, const std::set<std::string>& indexed);
  // Brings `w`'s timers in line with the rules and zones in force after a write of it
  // (daemon/timer_rearm.h); `stored`: its timers as stored (read when not given). Returns how
  // many timers it changed.
  Result<int> Rearm(Working& w, bool late_ok, const std::vector<store::TimerRow>* stored = nullptr);
  // The daily re-evaluation timer, a day from now, when the rules need it.
  void ArmLifecycle(Working& w);
  // The schedule triggers sweeping every profile (not only a segment's members).
  void ArmSchedules(Working& w);

  const LoadedRules& rules() const { return *rules_; }
  const rules::Engine& engine() const { return engine_; }
  // Brings the facts' scores and predictions up to now (before a timer's decision).
  void FillDerived(Working& w) const;
  store::Batch& batch() { return batch_; }
  int64_t now() const { return now_; }

  // Seals every changed profile's state into the batch, with the timers and member rows;
  // commits it. The profiles stay open for the next groups (OpenProfiles), unless
  // KeepNothingOpen was called: a base-wide pass, whose profiles would only push out the ones
  // events are arriving for.
  Result<store::CommitResult> Commit();
  void KeepNothingOpen() { keep_open_ = false; }

 private:
  Working* Add(store::OpenProfile open);
  Working* Add(std::unique_ptr<Working> w);
  // Stored metrics are not trusted blindly: a value of the wrong type (which no event can read
  // back) is reset, the reset audited and stored with this group.
  void Repair(Working& w);
  // The sealed payload of a task of trigger `t`, and the task's state: what the customer's
  // ledger allows. An opted-out customer's task carries the trigger's message_plain and no
  // fields, or is suppressed when there is none; a personalised task also carries the plain
  // message ("plain"), for the dispatcher to send if the customer opts out before the attempt.
  nlohmann::json TaskBody(Working& w, const rules::Trigger& t, const TaskConsent& allowed,
                          store::TaskRow& task);
  // The members-index rows and the segment schedules' timers of `transitions`.
  void FollowTransitions(Working& w, const std::vector<rules::SegmentTransition>& transitions);

  Ingestor& in_;
  std::shared_ptr<const LoadedRules> rules_;
  const rules::Engine& engine_;
  const std::shared_ptr<const rules::DerivedValues> derived_;
  const int64_t now_;
  const bool reads_objection_;
  bool keep_open_ = true;
  std::map<store::ProfileId, std::unique_ptr<Working>> by_id_;
  std::map<std::string, Working*> by_key_;
  std::unordered_set<std::string> event_keys_;
  std::unordered_set<std::string> stored_keys_;                     // of FindStored
  std::vector<std::pair<store::ProfileId, std::string>> new_keys_;  // wrapped, of new profiles
  std::map<std::pair<store::ProfileId, std::string>, std::optional<int64_t>> timers_;
  std::map<std::pair<std::string, store::ProfileId>, bool> members_;
  store::Batch batch_;
};

}  // namespace portrait::daemon
