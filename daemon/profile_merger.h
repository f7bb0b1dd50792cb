// PlanMerge: the writes that merge one profile (the source) into another (the target), "one
// person, one profile". Both profiles are opened (keys unwrapped, contents decrypted) by the
// caller on the writer thread; the plan is one Batch that, committed, leaves the target holding
// everything and the source gone:
//   fields   union; a field both hold takes the value of the side `prefer` names — by default
//            the newer profile, the one whose row was last written later (updated_us; a tie
//            keeps the target's). Re-sealed with the target's key, the blind index following.
//   tags     union. Time zone: the preferred side's, else the other's. Created: the earlier.
//   events   moved to the target, each re-sealed with the target's key.
//   metrics  recomputed from the merged events (both sides' stored events, in time order)
//            through the rules' metric definitions and [[model]] purchase books (so a fit
//            reading the books sees the merged history), the target's "$segments" bookkeeping kept
//            (its transitions' numbering goes on); lifecycle, segments and timers are the
//            caller's to re-evaluate after the commit (Ingestor::AfterProfileWrite).
//   consents the source's ledger copied under the target (evidence re-sealed, times kept);
//            then, for each purpose/scope/channel where the merged ledger's record in force is
//            less restrictive than either side's was (objected > withdrawn > granted), one
//            record at `now` with the more restrictive status (source "merge").
//   tasks    the source's unfinished tasks cancelled ("profile merged"), payloads emptied; its
//            timers go with it. The target's rules and ledger decide what happens next. Every
//            sink a source task was attempted on gets a profile.erased notice naming the
//            source's id (its copy under that id is stale; the data lives on under the target).
//   aliases  the source's aliases lead to the target; the source's own external id becomes
//            one (merged_id = the source), in the transaction that erases the source's rows.
// The source's data key is not touched: the caller destroys it after the commit.
// Errors name internal ids and fields, never a value. Pure but for reads of `store`.
#pragma once

#include <string>

#include "base/result.h"
#include "rules/metrics.h"
#include "rules/rule_set.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

enum class MergePrefer { kNewer, kTarget, kSource };

// "newer", "target" or "source"; InvalidArgument naming them otherwise.
Result<MergePrefer> ParseMergePrefer(std::string_view name);

struct MergeCounts {
  int fields_from_source = 0;  // fields the target took from the source
  int events_moved = 0;
  int consents_copied = 0;
  int consents_restricted = 0;  // records appended so the most restrictive state holds
  int tasks_cancelled = 0;
  int aliases = 0;  // aliases that lead to the target afterwards because of the merge
};

struct MergePlan {
  store::Batch batch;
  MergeCounts counts;
};

struct MergeInputs {
  store::Store& store;
  store::ProfileVault& vault;
  const std::vector<rules::Metric>& metrics;
  const std::vector<rules::Model>& models;  // whose purchase books are recomputed too
  std::string actor;                        // for the consent records the merge appends
  int64_t now_us = 0;
};

Result<MergePlan> PlanMerge(const MergeInputs& in, const store::OpenProfile& target,
                            const store::OpenProfile& source, MergePrefer prefer);

}  // namespace portrait::daemon
