// What a condition reads, for the purpose checks: the fields (CollectFields in expression.h) and
// the derived data — metrics, lifecycle, tags, segments, scores, predictions — directly, and
// transitively through the segments it names and the rule-driven tags its has_tag() or `tags`
// may see. A segment or a [[tag]] has no purpose of its own: whatever it reads is read by every
// trigger that uses it, and checked there. Pure; thread-safe.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "rules/expression.h"

namespace portrait::rules {

struct RuleSet;

// Derived data an expression reads: (kind, item, offset), item empty for the whole kind:
// ("metrics", "orders"), ("lifecycle", ""), ("tags", "vip") for has_tag('vip/...'), ("tags", "")
// for anything else that reads tags, ("segments", "vip"), ("scores", "rfm"),
// ("predictions", "clv").
struct DerivedRead {
  std::string kind;
  std::string item;
  int offset = 0;
  std::string tag;  // has_tag('vip/gold'): the whole argument, "vip/gold"
};

void CollectDerived(const Expr& expr, std::vector<DerivedRead>& out);

// One thing a use of a segment or a tag reads, and through what: `via` is the chain from the
// use, e.g. "segment 'vip' -> tag 'value/high'".
struct IndirectRead {
  std::string field;    // set for a field
  DerivedRead derived;  // else this (its offset is meaningless)
  std::string via;
};

// Everything read through `read` (a derived read of "segments", "tags" or "lifecycle"; nothing
// for other kinds): the segments reached, the [[tag]] rules whose paths the read can see, every
// lifecycle stage's condition (the first stage that holds wins, so all of them decide the
// stage), and what those conditions read, each reached once. A stage is a summary of activity a
// purpose may use without the metrics behind it, so the metrics a stage reads are left out;
// its fields, tags, scores and predictions are not. Iterative, so a long chain can't overflow
// the stack.
std::vector<IndirectRead> ReadsThrough(const DerivedRead& read, const RuleSet& rules);

// Whether `purpose` may use `read` (a derived read, e.g. ("segments", "vip")): its `derived`
// list allows it, and everything read through it (ReadsThrough) — each field used in clear by
// the purpose (not masked; sensitive only with sensitive = true), each piece of derived data
// allowed. What the rule loader checks at a trigger, for an API read of the derived data itself
// (a segment's members), so no caller learns about data its purpose may not use.
bool PurposeMayUse(const config::Purpose& purpose, const config::Config& config,
                   const DerivedRead& read, const RuleSet& rules);

// The conditions a base-wide re-evaluation evaluates: all that decide the portrait (the lifecycle
// stages', the [[tag]]s' and the [[segment]]s'), or the [[segment]]s' alone (a pass after a
// change of segments only, docs/DECISIONS.md 178).
enum class PassScope { kPortrait, kSegments };

// Whether the base-wide re-evaluation's verdicts can depend on `kind` ("scores" or
// "predictions") of `name`: some condition of `scope` reads it in its `when`. (Every one of
// them is evaluated by the pass, so direct reads cover the chains between them; a trigger's
// condition is evaluated there only at a stage change or segment transition, which needs one of
// these to read it first.) A fit or refresh asks for the pass only then.
bool PortraitReads(const RuleSet& rules, std::string_view kind, std::string_view name,
                   PassScope scope = PassScope::kPortrait);

// Whether some condition of `scope` reads a score or a prediction: the pass must compute them.
bool ReadsDerivedValues(const RuleSet& rules, PassScope scope);

// The fields the conditions of `scope` name (CollectFields), ascending, once each.
std::vector<std::string> PortraitFields(const RuleSet& rules, PassScope scope);

// The top-level entries of a profile's metrics that the base-wide re-evaluation's verdicts
// (Engine::Reevaluate with the daemon's scores and predictions, or Engine::UpdateSegments for
// PassScope::kSegments) read or write: the metrics the conditions of `scope` name, the inputs
// of each [[score]] one of them reads (PortraitReads), the "$purchases" books when one of them
// reads a [[model]]'s predictions, and the "$tags" and "$segments" bookkeeping; ascending, once
// each. The pass's check opens only these.
std::vector<std::string> PortraitMetrics(const RuleSet& rules,
                                         PassScope scope = PassScope::kPortrait);

// The model outputs, (model, output) such as ("clv", "p_alive"), that some condition of `rules`
// reads — a lifecycle stage's, a [[tag]]'s, a [[segment]]'s or a trigger's: nothing else reads
// a profile's predictions, so the engine computes only these.
std::set<std::pair<std::string, std::string>> PredictionsRead(const RuleSet& rules);

// The [[score]]s that some condition of `rules` reads (scores.NAME.KEY in a lifecycle stage's,
// a [[tag]]'s, a [[segment]]'s or a trigger's `when`): nothing else reads a profile's scores in
// the engine, so it computes only these.
std::set<std::string> ScoresRead(const RuleSet& rules);

// Whether `path`, a [[tag]] rule's path, is visible to the tags read `read` (kind "tags"): all of
// them for a whole-kind read, else those equal to or under the has_tag() argument.
bool TagVisible(const DerivedRead& read, std::string_view path);

}  // namespace portrait::rules
