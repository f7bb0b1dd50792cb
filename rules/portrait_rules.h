// Loading the portrait's rule tables into a RuleSet being built by ParseRules: [[score]] (rfm),
// [[model]] (bgnbd), [[tag]] rules and [[segment]]s, with their checks (names, kinds, metrics of
// the right kind, cron specs, tag paths, conditions), the dependency order of segments (a cycle
// is a load error naming its chain) and the marks that decide who is left out for profiling.
// Errors go to the Diagnostics of the file being read, as file:line:col. Single-threaded; used by
// rule_set.cc only.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/toml_reader.h"
#include "rules/rule_set.h"

namespace portrait::rules {

// The position of byte `offset` of a single-line string value written at `value` (its quote).
config::SourcePos At(const config::SourcePos& value, int offset);

// Parses `text`, the value of `key` of `r`, as a condition; reports an error at its column.
std::optional<Expr> Condition(config::TableReader& r, const config::Located& text,
                              std::string_view key, const Schema& schema);

class PortraitLoader {
 public:
  explicit PortraitLoader(RuleSet& set) : set_(set) {}

  // [[score]] and [[model]]; metrics must be loaded first. A model whose `purchases` events a
  // [[retention]] rule of `config` deletes is an error (DECISIONS 115).
  void LoadScore(const toml::table& t, config::Diagnostics& diag);
  void LoadModel(const toml::table& t, config::Diagnostics& diag, const config::Config& config);
  // Adds the names of the scores, the models and the [[segment]] tables of `tables` (not yet
  // parsed) to `schema`, so conditions anywhere may name any of them.
  void AddNames(const std::vector<const toml::table*>& segment_tables, Schema& schema) const;
  // [[tag]]: its `when` may read fields, metrics, scores and predictions.
  void LoadTag(const toml::table& t, config::Diagnostics& diag, const Schema& schema);
  // [[segment]]: its `when` may read fields, metrics, tags, the lifecycle stage, scores,
  // predictions and other segments.
  void LoadSegment(const toml::table& t, config::Diagnostics& diag, const Schema& schema);
  // on.segment = { enter = "NAME" } or { exit = "NAME" } of `trig`.
  void LoadSegmentOn(const toml::table& on_segment, Trigger& trig, config::Diagnostics& diag);
  // `segment = "NAME"` of a schedule trigger: it sweeps only the segment's members.
  void LoadSweep(config::TableReader& r, Trigger& trig);
  // Puts the segments in dependency order; reports each cycle (with its chain) to `diag`.
  void OrderSegments(config::Diagnostics& diag);
  // Marks the segments a marketing trigger uses, and such triggers that profile. After every
  // trigger is loaded.
  void MarkMarketing(const config::Config& config);

 private:
  std::optional<CronSpec> Refresh(config::TableReader& r);
  // Reports each cycle among the segments still `waiting` for `deps` (indexes) after ordering.
  void ReportCycles(const std::vector<std::vector<size_t>>& deps,
                    const std::vector<size_t>& waiting, config::Diagnostics& diag) const;
  // Reports the cycle of the segments at `cycle` (indexes), at the first one's position.
  void ReportCycle(const std::vector<size_t>& cycle, config::Diagnostics& diag) const;

  RuleSet& set_;
  // Names taken so far (also by tables that failed to load, so a duplicate is still reported).
  std::set<std::string> scores_, models_, segments_, tags_;
};

}  // namespace portrait::rules
