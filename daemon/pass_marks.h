// PassMark: where a base-wide pass (the re-arm of timers, the portrait's re-evaluation) records
// that it is done for a target (the rules' fingerprint, and for the re-evaluation the last
// request), on one node and among several (docs/DECISIONS.md 173).
//
// One node walks every profile and sets the base-wide meta entry KEY to the target, as before.
// Among several, each node passes only the partitions it holds, and marks each one it held from
// its pass's start to its end: KEY/P = TARGET#EPOCH. A partition is done when KEY equals the
// target (a single node passed the whole base for it, and no node of several began a pass since)
// or when its own mark does. So that neither form stands for work the other undid:
//  - a node of several that begins a pass clears KEY (BeginPartitions), so one node started
//    later does not take the base as passed for a target it was last passed for;
//  - one node that begins a pass on a store with partitions counts KEY/epoch up
//    (BeginBaseWide), so partition marks written before it no longer match.
// A store without partitions (SQLCipher, memory) has only KEY, written exactly as before.
// Never personal: targets, partition numbers and counts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace portrait::daemon {

class PassMark {
 public:
  // `key`: the base-wide entry (e.g. "timers.rules_fingerprint").
  explicit PassMark(std::string_view key) : key_(key) {}

  // One node: whether the base is passed for `target`.
  Result<bool> Done(store::Store& store, std::string_view target) const;
  // One node beginning a pass: on a store with partitions, the next epoch into `batch`.
  Status BeginBaseWide(store::Store& store, store::Batch& batch) const;
  // One node, its pass over every profile done: KEY = target.
  void MarkBaseWide(store::Batch& batch, std::string_view target) const;

  // Several nodes: which of `held` are not passed for `target`. `whole` is what KEY holds once
  // one node passed the base for the same (the re-arm's names the rule files' directories,
  // which differ from node to node; `target` does not).
  Result<std::vector<store::HeldPartition>> Pending(
      store::Store& store, std::string_view whole, std::string_view target,
      const std::vector<store::HeldPartition>& held) const;
  // Several nodes beginning a pass: clears KEY, in `batch`, unless it is empty or `whole`
  // already. Returns whether it put anything in `batch`.
  Result<bool> BeginPartitions(store::Store& store, std::string_view whole,
                               store::Batch& batch) const;
  // Several nodes: partition `part` passed for `target`, in `batch`.
  Status MarkPartition(store::Store& store, store::Batch& batch, int part,
                       std::string_view target) const;

  // The entry of partition `part` (KEY/P) and the epoch's (KEY/epoch).
  std::string PartitionKey(int part) const;
  std::string EpochKey() const;

 private:
  Result<std::string> PartitionTarget(store::Store& store, std::string_view target) const;

  std::string key_;
};

// Whether `held` (a store's HeldPartitions) still holds `p` in the same tenure.
bool StillHeld(const std::optional<std::vector<store::HeldPartition>>& held,
               const store::HeldPartition& p);

}  // namespace portrait::daemon
