// Ingestor: the writer thread's work — turning events and due timers into stored changes. For a
// group of requests it opens each profile once, applies every event in order (metrics,
// lifecycle, event and lifecycle triggers, absence timers), seals what it stores with the
// profile's key, writes a task for every fired trigger (pending when the customer's ledger allows
// it — the purpose's lawful basis, the sensitive consent for a trigger using a sensitive field,
// the transfer consent for a third-party sink — else suppressed with the reason; an opted-out
// customer's task carries the trigger's message_plain and no fields, or is suppressed when it
// has none), and commits the whole group in one transaction with
// one audit record per request. Profiles stay open (decrypted, keyed) between groups, up to a
// bound. Not thread-safe: only the writer thread calls it (checked in debug builds).
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/thread_checker.h"
#include "config/config.h"
#include "daemon/cloud_event.h"
#include "daemon/consent_service.h"
#include "daemon/kept_marks.h"
#include "daemon/known_subjects.h"
#include "daemon/rules_holder.h"
#include "rules/reads.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class OpenProfiles;

struct IngestRequest {
  std::vector<IncomingEvent> events;
  std::string actor;  // for the audit record
  std::string purpose;
};

struct IngestCounts {
  int accepted = 0;
  int duplicates = 0;
  int tasks = 0;
};

struct TimerSweep {
  int timers = 0;   // due timers handled
  int fired = 0;    // of which fired a task
  int damaged = 0;  // of which dropped: their profile's sealed values do not open
};

// What the base-wide re-evaluation's check read of a range of profiles (Ingestor::ReadForCheck).
struct CheckInputs {
  std::shared_ptr<const LoadedRules> rules;  // the rules in force when read: judged under them
  rules::PassScope scope = rules::PassScope::kPortrait;  // the conditions judged
  bool anchored = false;             // the anchors are complete: date fields are read from them
  bool objection = false;            // the conditions judged read the personalisation objection
  bool derived = true;               // they may read scores or predictions
  std::vector<std::string> metrics;  // the metrics' entries the pass reads (PortraitMetrics)
  // Non-empty: the spec of the digests read in place of the profiles (a segments-only check on
  // a store that keeps them, docs/DECISIONS.md 180); the check makes one for each profile it
  // read without.
  std::string digest_spec;
  std::vector<store::PortraitInputs> profiles;
};

// Which profiles of a range the base-wide re-evaluation must re-evaluate on the writer
// (Ingestor::Check).
struct ReevaluationCheck {
  store::ProfileId last = 0;              // the range's last profile; 0 when none were left
  int64_t checked = 0;                    // profiles in the range
  std::vector<store::ProfileId> changed;  // ascending: those the writer must re-evaluate
  // Digests of profiles it found unchanged, for the writer to store while they still are.
  std::vector<store::DigestWrite> digests;
};

// A base-wide re-evaluation's progress (Ingestor::ReevaluateProfiles).
struct ReevaluationProgress {
  store::ProfileId last = 0;  // the last profile handled; 0 when none were left
  int64_t checked = 0;        // profiles checked
  int64_t profiles = 0;       // profiles re-evaluated on the writer (those the check sent)
  int64_t tasks = 0;          // tasks their transitions fired
  int64_t index_changes = 0;  // members-index rows set or dropped to match "$segments"
  int64_t damaged = 0;        // profiles left as they are: their sealed values do not open
};

// Where a base-wide re-evaluation starts (Ingestor::BeginReevaluation).
struct ReevaluationStart {
  bool needed = false;         // false: the base is evaluated for the rules in force
  std::string fingerprint;     // of the portrait rules the pass evaluates for
  store::ProfileId after = 0;  // resume after this profile (a pass cut off by a stop)
  // What the pass evaluates: everything that decides the portrait, or the [[segment]]s alone
  // when nothing else changed since a pass completed under the same epoch of the other rules
  // (docs/DECISIONS.md 178).
  rules::PassScope scope = rules::PassScope::kPortrait;
  std::string pass;  // the name its progress is recorded under: fingerprint, scope and epoch
  // What it records as evaluated once complete, with its fingerprint: the epoch it began in and
  // the requests and rebuilds it answers (empty: no epoch begun). Only a pass begun in the epoch
  // in force can match it: epochs never come back.
  std::string base;
};

struct RearmProgress {
  store::ProfileId last = 0;  // the last profile handled; 0 when none were left
  int64_t changed = 0;        // timers set, moved or cleared (anchors, for a backfill)
};

class Ingestor {
 public:
  // All references must outlive the ingestor.
  Ingestor(store::Store& store, store::ProfileVault& vault, ConsentService& consents,
           store::AuditLog& audit, const RulesHolder& rules, const crypto::BlindIndex& blind,
           const Clock& clock);
  ~Ingestor();

  // What fills the facts' scores and predictions (rules::DerivedValues) under the rules given,
  // made once per group; none: they stay empty. Set once, before the first group.
  using DerivedMaker = std::function<std::shared_ptr<const rules::DerivedValues>(
      std::shared_ptr<const LoadedRules>)>;
  void SetDerived(DerivedMaker make) { make_derived_ = std::move(make); }

  // Seals each event's data for its subject's profile, when that profile exists: the crypto
  // half of ingestion, done before the writer (which checks the profile is still the same, and
  // seals what is left). Subjects seen lately are sealed from memory (KnownSubjects), others
  // are looked up in the store. Thread-safe: for the I/O threads. Errors leave events unsealed.
  void SealKnownSubjects(std::vector<IncomingEvent>& events) const;

  // Applies the requests' events in one durable transaction; the counts of each, in order.
  // An unknown subject creates a bare profile. On error nothing of the group is stored.
  Result<std::vector<IngestCounts>> ApplyEvents(const std::vector<const IngestRequest*>& requests);

  // Handles up to `limit` timers due by now, in one transaction: re-evaluates lifecycles (the
  // daily "$lifecycle" timer), fires triggers that still hold (a timer missed by more than its
  // trigger's grace does not fire), re-arms recurring ones, drops the rest.
  Result<TimerSweep> FireDueTimers(int limit);

  // After profile `id` was written: re-evaluates its lifecycle stage (firing lifecycle triggers
  // on a change) and sets its anniversary timers from its fields; arms the schedule and daily
  // lifecycle timers it lacks.
  Status AfterProfileWrite(store::ProfileId id);
  // The same for many profiles (an import's batch) in one transaction. `written`: profiles among
  // them just written by the caller on this thread, as stored (row, key, plaintext), used as
  // they are instead of being opened again.
  Status AfterProfileWrites(const std::vector<store::ProfileId>& ids,
                            std::vector<store::OpenProfile> written = {});

  // After a consent record for profile `id`: when the rules read the personalisation objection
  // (a marketing segment, a profiling trigger), drops what is kept of the profile and
  // re-evaluates it (AfterProfileWrite), so an objection takes it out of marketing segments
  // (their exit triggers fire) and a withdrawn objection lets it back in.
  Status AfterConsentRecord(store::ProfileId id);

  // After a change of the rules or the time zone: brings the timers of up to `limit` profiles
  // with ids above `after` in line with them, in one transaction (none when nothing changed). A
  // stored timer that is still an occurrence stays; a stale one is moved (to an occurrence
  // passed within its trigger's grace, when there is one). Reads each profile's zone,
  // anniversary anchors and timers in ordered range reads (Store::RearmInputs) and decrypts
  // nothing: the anchors must be complete (AnchorsComplete). Returns the last id handled (0
  // when none were left) and how many timers changed. (daemon/ingestor_rearm.cc)
  // With `part` (among several nodes, DECISIONS 173): only the profiles of that partition.
  Result<RearmProgress> RearmProfiles(store::ProfileId after, int limit,
                                      std::optional<int> part = std::nullopt);
  // Before a re-arm of every profile (one node): on a store with partitions, outdates the marks
  // of partitions passed by nodes of several (PassMark::BeginBaseWide).
  Status BeginRearm();
  // Records, with an audit record counting the timers changed, that every timer is armed for
  // the rules now in force (see RulesArmed).
  Status MarkRulesArmed(int64_t changed);
  // Whether the stored timers were armed for the rules (and the time zone) now in force; false
  // after a change, including one made while the daemon was stopped.
  Result<bool> RulesArmed();
  // Among several nodes (docs/DECISIONS.md 173), the re-arm passes each held partition apart:
  // the fingerprint it arms for (the rules' shared_fingerprint: alike on nodes with alike
  // rules), which of `held` are not armed for it, the beginning of a pass (clears the
  // base-wide mark: PassMark::BeginPartitions), and the mark of partition `p` once every
  // profile of it is re-armed — Unavailable, nothing marked, unless this node still holds it in
  // the tenure the pass began in. An audit record counts the timers changed, when any.
  std::string ArmingTarget() const;
  Result<std::vector<store::HeldPartition>> UnarmedPartitions(
      const std::string& target, const std::vector<store::HeldPartition>& held);
  Status BeginPartitionRearm();
  Status MarkPartitionArmed(const store::HeldPartition& p, const std::string& target,
                            int64_t changed);

  // Whether every profile's anniversary anchors were made for the date fields of the config in
  // force (after the schema gained them, or the config a date field, they were not). Among
  // several nodes (docs/DECISIONS.md 177): those of every partition held, or with `part` of
  // that partition (the base-wide mark, which a single node's backfill wrote, stands for all).
  Result<bool> AnchorsComplete(std::optional<int> part = std::nullopt);
  // Makes the anchors of up to `limit` profiles with ids above `after` (with `part`, of that
  // partition) match their date fields (opening — decrypting — each), in one transaction;
  // anchors of fields that are no date field any more go. Returns the last id handled (0 when
  // none were left) and how many anchors changed.
  Result<RearmProgress> BackfillAnchors(store::ProfileId after, int limit,
                                        std::optional<int> part = std::nullopt);
  // The date fields of the config in force, as MarkAnchorsComplete records them.
  std::string AnchoredFieldsNow() const;
  // Before a backfill: on one node, outdates the partitions' marks (PassMark::BeginBaseWide);
  // among several, clears the base-wide mark unless it is `fields` (PassMark::BeginPartitions).
  Status BeginBackfill(const std::string& fields);
  // Records that the anchors are complete for `fields` (AnchoredFieldsNow when the backfill
  // began: a reload meanwhile leaves the mark unequal to the config, so AnchorsComplete says
  // no and the backfill runs again), with an audit record counting the anchors changed when
  // there were any.
  Status MarkAnchorsComplete(int64_t changed, const std::string& fields);
  // Among several nodes: which of `held` are not anchored for `fields`, and the mark of
  // partition `p` once backfilled — Unavailable, nothing marked, unless this node still holds
  // it in the tenure the backfill began in.
  Result<std::vector<store::HeldPartition>> UnanchoredPartitions(
      const std::string& fields, const std::vector<store::HeldPartition>& held);
  Status MarkPartitionAnchored(const store::HeldPartition& p, const std::string& fields,
                               int64_t changed);

  // Recomputes `targets` (values kept from events whose marks are missing: KeptMarks) for up to
  // `limit` profiles with ids above `after`, in one transaction: each profile opened, its stored
  // events of the targets' types opened and applied again in time order to values forgotten
  // first (daemon/ingestor_rebuild.cc). Only profiles whose values change are stored. Returns
  // the last id handled (0 when none were left) and the counts. With `part` (among several
  // nodes): the profiles of that partition, the job's change flag that partition's.
  struct RebuildStep {
    store::ProfileId last = 0;
    RebuildCounts counts;
    std::vector<store::ProfileId> damaged;  // did not open, or rebuilt without an event
  };
  Result<RebuildStep> RebuildKept(const KeptTargets& targets, store::ProfileId after, int limit,
                                  std::optional<int> part = std::nullopt);

  // The base-wide re-evaluation (daemon/ingestor_reevaluate.cc, DECISIONS 107): after a change
  // of the rules that decide the portrait — [[tag]], [[segment]], [[score]], [[model]], the
  // lifecycle stages and the schedules scoped to a segment (PortraitFingerprint) — or on
  // request (AddReevaluationRequest, in the batch of a score refresh or a model fit whose
  // values the portrait reads: the mark to reach then includes the request's number, so the
  // request survives a crash and a pass begun before it does not answer it), every profile is
  // checked off the writer (ReadForCheck, Check; DECISIONS 120), and those for which it would
  // change anything are re-evaluated on the writer (Engine::Reevaluate: tags, stage, segments and
  // their triggers), their members-index rows made to match their "$segments" and their timers
  // re-armed, in writer jobs.
  //
  // The fingerprint of the rules in force that decide the portrait.
  std::string PortraitFingerprint() const;
  // What the evaluated mark must equal: the fingerprint of `set`, "+N" after request N, and
  // "~M" after M rebuilds of kept values that changed a profile (KeptMarks).
  Result<std::string> EvaluationTarget(const rules::RuleSet& set);
  // Whether a pass is needed and where it starts: resumes a pass cut off for the same rules and
  // scope; drops the members-index rows of segments the rules no longer have. A base never
  // evaluated whose rules have no [[tag]] or [[segment]] is marked evaluated at once (nothing
  // to do). On one node, a pass after a change of [[segment]]s alone evaluates only them
  // (docs/DECISIONS.md 178).
  Result<ReevaluationStart> BeginReevaluation();
  // Called on the writer before `next` takes effect (a start, a reload): when what decides the
  // portrait besides the [[segment]]s differs from the rules the epoch was begun for, begins a
  // new epoch, so no pass evaluates only the segments until one has evaluated everything under
  // it.
  Status NoteRulesInForce(const LoadedRules& next);
  // The check, in two steps on any thread, off the writer (daemon/ingestor_check.cc): reads
  // what the pass reads of up to `limit` profiles with ids above `after`, in one snapshot; then
  // tells which of them re-evaluating would change — what the pass stores ("$tags",
  // "$segments", a repaired metric, the stage, timers, members-index rows) or a task it fires —
  // opening and evaluating them on two threads. The scheduler runs two ranges at once
  // (CheckPipeline).
  // With `part` (among several nodes): only the profiles of that partition.
  // With PassScope::kSegments, only what the [[segment]]s read, and only they are judged.
  Result<CheckInputs> ReadForCheck(store::ProfileId after, int limit,
                                   std::optional<int> part = std::nullopt,
                                   rules::PassScope scope = rules::PassScope::kPortrait);
  ReevaluationCheck Check(const CheckInputs& read) const;
  // Re-evaluates the profiles `check` found changed (none: only the progress is recorded), in
  // one transaction that also records the progress (the check's last profile) under `pass`
  // (ReevaluationStart::pass; a restart resumes after it).
  // A profile changed after its range was read is re-evaluated as it is now; one the check
  // found unchanged and an event changed since was evaluated by that event's group, under the
  // same rules.
  // With `part` (a check of that partition's profiles, among several nodes) no base-wide
  // progress is recorded: a partition's pass is begun again if cut off.
  Result<ReevaluationProgress> ReevaluateProfiles(const ReevaluationCheck& check,
                                                  const std::string& pass,
                                                  std::optional<int> part = std::nullopt);
  // Records that every profile was re-evaluated for `start`'s fingerprint, and its base, with
  // an audit record (portrait.reevaluate) of the pass's counts.
  Status MarkReevaluated(const ReevaluationStart& start, const ReevaluationProgress& totals);
  // Whether the base is evaluated for the rules in force and the last request.
  Result<bool> PortraitEvaluated();
  // Among several nodes (docs/DECISIONS.md 173), the re-evaluation passes each held partition
  // apart. Begins a pass as BeginReevaluation does (the members-index rows of dropped segments,
  // the start mark of rules with nothing to evaluate), clears the base-wide mark and progress
  // when partitions are to be passed, and returns the target and which of `held` are not
  // evaluated for it. The mark of partition `p` is refused (Unavailable) unless this node still
  // holds it in the tenure its pass began in; an audit record counts what changed, when
  // anything did.
  struct PartitionReevaluation {
    std::string fingerprint;
    std::vector<store::HeldPartition> pending;
  };
  Result<PartitionReevaluation> BeginPartitionReevaluation(
      const std::vector<store::HeldPartition>& held);
  Status MarkPartitionReevaluated(const store::HeldPartition& p, const std::string& fingerprint,
                                  const ReevaluationProgress& totals);

  // Drops what the ingestor keeps of profile `id` between groups, its data key included; call
  // after anything but the ingestor wrote the profile (an upsert, an erasure, a merge).
  void Forget(store::ProfileId id);
  // Drops every profile kept: after a write to many (a retention purge).
  void ForgetAll();

 private:
  // EvaluationTarget's "+N~M" part alone.
  Result<std::string> EvaluationSuffix();
  friend class IngestGroup;

  // The id and key of `subject`'s profile: from memory, else from the store (then kept);
  // nullptr when there is no such profile or the lookup failed.
  std::shared_ptr<const KnownSubjects::Entry> Known(const std::string& subject) const;
  // Drops the open profiles unless they were opened under `rules` (for IngestGroup).
  void KeepOpenUnder(const std::shared_ptr<const LoadedRules>& rules);

  store::Store& store_;
  store::ProfileVault& vault_;
  ConsentService& consents_;
  store::AuditLog& audit_;
  const RulesHolder& rules_;
  const crypto::BlindIndex& blind_;
  const Clock& clock_;
  DerivedMaker make_derived_;
  std::unique_ptr<OpenProfiles> open_;  // profiles kept open between groups
  // The rules `open_`'s facts were built under: a reload (which may start reading the
  // personalisation objection, say) drops them (KeepOpenUnder).
  std::shared_ptr<const LoadedRules> open_under_;
  std::unique_ptr<KnownSubjects> known_;  // for SealKnownSubjects on the I/O threads
  // All but SealKnownSubjects, RulesArmed, AnchorsComplete, AnchoredFieldsNow,
  // UnanchoredPartitions, ReadForCheck and Check.
  ThreadChecker writer_thread_;
};

// Asks durably for a base-wide re-evaluation: puts the next request number into `batch` (the
// change that needs the pass: a fit or a refresh whose values the portrait reads, committed
// with it). It reads the last number and writes the next, so requests are made from one thread
// (the job thread) at a time.
Status AddReevaluationRequest(store::Store& store, store::Batch& batch);

}  // namespace portrait::daemon
