// KeptMarks: which values kept from events — each [[metric]] and each [[model]]'s purchase books
// (rules/purchase_book.h) — hold every stored event, so that they may be trusted as the history's
// summary (docs/DECISIONS.md 130, 142). A value misses the events applied while the rules in
// force did not keep it (before it was added, or while it was removed or defined otherwise), so
// a mark names its definition and is set only when the values are known to be complete:
//  - when rules defining it come into force while no event of its type is stored (every later
//    event is applied under them);
//  - when the rebuild pass (Ingestor::RebuildKept, run by the scheduler) has recomputed it for
//    every profile from its stored events, with no rules put in force meanwhile.
// Rules that drop or redefine a value come into force only after its mark is gone. The marks are
// two meta entries of the store ("purchase_books": {"MODEL": "TYPE\nAMOUNT"}, "kept_metrics":
// {"METRIC": "KIND\nTYPE\nKEY"}), never personal. A store written before metrics were marked has
// no "kept_metrics": the metrics of the first rules put in force are taken as complete, as they
// were kept before (rebuilding them from the events a retention rule left would lose counts).
//
// Among several nodes (docs/DECISIONS.md 176) each node rebuilds the partitions it holds, and a
// partition P has its own marks, the meta entry "kept/P" ({"metrics": {...}, "books": {...}},
// the same definitions): a value is complete in P when the base-wide mark or P's has its
// definition, and complete base-wide when the base-wide mark has it or every partition's does.
// The base-wide mark is only ever narrowed among several nodes: a node's Replace moves what it
// forgets of it to the partitions it does not hold (their holders' rules may keep it still) and
// forgets it in those it holds; one node forgets it in every partition. A node that takes a
// partition anew, or sees a peer's reload write partitions' marks (kKeptMovedKey), forgets in
// the marks of those it holds what its rules do not keep (Vet), since it applies their events
// without it. A store without partitions (SQLCipher, memory) has none of these entries.
// Thread-safe; Replace, Vet and MarkRebuilt(In) run on the writer thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "daemon/rules_holder.h"
#include "rules/rule_set.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace portrait::daemon {

// The meta entry counting the rebuild passes that changed a profile: part of what the base-wide
// re-evaluation's mark must match (Ingestor::EvaluationTarget), so a rebuild is followed by one.
inline constexpr std::string_view kRebuildsKey = "kept.rebuilds";
// The meta entry a rebuild job sets ("1") with the profiles it changes, so a pass cut off by a
// stop or a reload still counts as a change when a later pass is marked (MarkRebuilt).
inline constexpr std::string_view kRebuildChangedKey = "kept.changed";

// The meta entry a node of several's Replace sets, to a value of its own, whenever it writes
// partitions' marks: a peer whose reload overlapped may have written the marks of this node's
// partitions from what it read before, so each node vets all the partitions it holds again
// (KeptMarks::Vet) when it changes (docs/DECISIONS.md 176).
inline constexpr std::string_view kKeptMovedKey = "kept.moved";
// Partition `part`'s marks among several nodes: "kept/P".
std::string KeptPartitionKey(int part);
// kRebuildChangedKey, or partition `part`'s ("kept.changed/P") for a rebuild among several nodes.
std::string RebuildChangedKey(std::optional<int> part);

// The count a meta entry holds (0 when there is none); Corruption when it holds anything but a
// non-negative integer.
Result<int64_t> MetaCount(store::Store& store, std::string_view key);

// The values of the rules in force whose marks are missing: what a rebuild pass recomputes.
struct KeptTargets {
  std::vector<rules::Metric> metrics;
  std::vector<rules::Model> models;

  bool empty() const { return metrics.empty() && models.empty(); }
  // The event types whose events rebuild them.
  bool Reads(std::string_view event_type) const;
  // Whether what `set` decides in the base-wide re-evaluation (stages, tags, segments, scores,
  // predictions) reads one of them (rules::PortraitMetrics); if not, rebuilding them moves
  // nothing it decides.
  bool ReadByPortrait(const rules::RuleSet& set) const;
};

// What a rebuild pass did, for its audit record.
struct RebuildCounts {
  int64_t profiles = 0;  // profiles read
  int64_t changed = 0;   // of which stored with other values
  // Left out, each named in a log line: profiles that did not open, and events (of profiles
  // rebuilt without them) that did not open or hold JSON — damage a pass must not stop at.
  int64_t unreadable_profiles = 0;
  int64_t unreadable_events = 0;
};

class KeptMarks {
 public:
  KeptMarks(store::Store& store, store::AuditLog& audit) : store_(store), audit_(audit) {}

  // Puts `next` in force in `holder`, on the writer thread (so no event group runs meanwhile):
  // forgets the marks `next` would not keep, sets it, then marks each of its values with no
  // stored event of its type. When forgetting fails, `next` is not set and the error is
  // returned; a failure to mark only leaves values unmarked (the rebuild pass marks them).
  // Among several nodes, what it forgets of the base-wide mark goes, in the same commit, to the
  // marks of the partitions this node does not hold, and only the held partitions are marked.
  Status Replace(RulesHolder& holder, std::shared_ptr<const LoadedRules> next);

  // Whether `model`'s books are marked complete for its definition, base-wide.
  Result<bool> Complete(const rules::Model& model);

  // The values of `set` (the rules in force) that are not marked complete: base-wide, or with
  // `part` in that partition.
  Result<KeptTargets> Incomplete(const rules::RuleSet& set, std::optional<int> part = std::nullopt);

  // A partition taken anew by a node of several: forgets in the marks of each of `parts` what
  // `set` (the rules in force) does not keep, since this node applies its events without it.
  // On the writer thread.
  Status Vet(const rules::RuleSet& set, const std::vector<int>& parts);

  // A count of the rules put in force by Replace. A rebuild pass takes it before it takes the
  // rules in force.
  uint64_t generation();

  // After a rebuild pass of `targets` over every profile: marks them complete if no rules came
  // into force since `generation` was taken (else returns false: the pass must run again), with
  // an audit record (kept.rebuild) of the counts, and — when a profile changed, in this pass or
  // in one cut off before it (kRebuildChangedKey), and `portrait_reads` them — the next rebuild
  // count (kRebuildsKey), in one commit. On the writer thread.
  Result<bool> MarkRebuilt(const KeptTargets& targets, uint64_t generation,
                           const RebuildCounts& counts, bool portrait_reads, int64_t now_us);
  // The same after a rebuild of partition `p` among several nodes: its marks ("kept/P") and
  // its change flag (RebuildChangedKey), the record naming the partition; Unavailable, nothing
  // marked, unless this node still holds `p` in the same tenure.
  Result<bool> MarkRebuiltIn(const store::HeldPartition& p, const KeptTargets& targets,
                             uint64_t generation, const RebuildCounts& counts, bool portrait_reads,
                             int64_t now_us);

 private:
  struct Marks {
    nlohmann::json books = nlohmann::json::object();
    nlohmann::json metrics = nlohmann::json::object();
    bool metrics_stored = false;  // "kept_metrics" was there
  };
  Result<Marks> Read() REQUIRES(mu_);
  Result<Marks> ReadPartition(int part) REQUIRES(mu_);
  // The batch entries writing `marks`.
  static void Put(const Marks& marks, store::Batch& batch);
  static void PutPartition(int part, const Marks& marks, store::Batch& batch);
  Result<bool> Mark(const KeptTargets& targets, uint64_t generation, const RebuildCounts& counts,
                    bool portrait_reads, int64_t now_us,
                    const std::optional<store::HeldPartition>& p);
  Status Write(const Marks& marks) REQUIRES(mu_);

  store::Store& store_;
  store::AuditLog& audit_;
  Mutex mu_;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
};

}  // namespace portrait::daemon
