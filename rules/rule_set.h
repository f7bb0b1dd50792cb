// A loaded set of rules: metrics, lifecycle stages, rule-driven tags, segments, scores, models and
// triggers from TOML rule files, with every expression and template parsed and type-checked, and
// every trigger checked against the access policy: a trigger may only read and send fields its
// purpose may use in clear, sensitive fields only if the purpose declares sensitive = true, and
// derived data only as its purpose's `derived` list allows — also what it reads through the
// segments and rule-driven tags it uses, transitively. Errors name file:line:col and the key or
// field; all errors of all files are reported at once. Immutable; thread-safe to share.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "config/source_files.h"
#include "rules/calendar.h"
#include "rules/expression.h"
#include "rules/message_template.h"
#include "rules/metrics.h"

namespace portrait::rules {

struct LifecycleStage {
  std::string stage;
  std::string source;  // the `when` text
  Expr when;
  config::SourcePos pos;
};

// A [[tag]] rule: the profile carries `path` while `when` holds (beside the tags set through the
// API). Its `when` may not read tags, segments or the lifecycle stage (computed after it).
struct TagRule {
  std::string path;
  std::string source;  // the `when` text
  Expr when;
  config::SourcePos pos;
};

// A [[segment]]: the profiles for which `when` holds. RuleSet::segments lists them in dependency
// order (a segment after every segment its `when` names).
struct Segment {
  std::string name;
  std::string source;  // the `when` text
  Expr when;
  // Used, directly or through other segments, by a trigger of a marketing purpose: a customer
  // who objected to personalisation is never a member.
  bool marketing = false;
  config::SourcePos pos;
};

// A [[score]] kind = "rfm": recency, frequency and monetary quintiles over the whole base, from a
// `last`, a `count` and a `sum` metric; refreshed on `refresh` (the values are computed outside
// the rules layer and read as scores.NAME.r|f|m|group).
struct Score {
  std::string name;
  std::string recency, frequency, monetary;  // metric names
  std::optional<CronSpec> refresh;           // none: refreshed on demand only
  config::SourcePos pos;
};

enum class ModelUnit { kDay, kWeek };

// A [[model]] kind = "bgnbd": BG/NBD over the `purchases` events (several on one day count as
// one) and Gamma-Gamma over their `amount`, in `unit`s, with a yearly `discount` for lifetime
// value; fitted on `refresh`; read as predict.NAME.p_alive|purchases_90d|value_1y.
struct Model {
  std::string name;
  std::string purchases;  // event type
  std::string amount;     // event.data key (dotted)
  ModelUnit unit = ModelUnit::kWeek;
  double discount = 0.1;
  std::optional<CronSpec> refresh;  // none: fitted on demand only
  config::SourcePos pos;
};

enum class TriggerKind { kEvent, kAbsence, kAnniversary, kLifecycle, kSchedule, kSegment };
enum class Once { kEvery, kPerProfile, kPerYear, kPerMonth, kPerDay };

struct Trigger {
  std::string id;
  std::string purpose;
  TriggerKind kind = TriggerKind::kEvent;
  std::string event_type;  // event
  std::string after;       // absence: arms the timer
  std::string missing;     // absence: disarms it
  int64_t within_us = 0;   // absence: how long after `after`
  std::string field;       // anniversary: a date field
  AnniversarySpec anniversary;
  std::string from, to;     // lifecycle; empty = any stage
  CronSpec cron;            // schedule
  std::string segment;      // segment: the segment entered or left; schedule: only its members
  bool enter = true;        // segment: on entering (else on leaving)
  std::string when_source;  // empty: always
  std::optional<Expr> when;
  std::string task;
  std::string channel;
  std::string sink;
  MessageTemplate message;
  std::optional<MessageTemplate> message_plain;
  std::vector<std::string> fields;  // sent with the task
  // Reads or sends a `sensitive` field: each task needs the customer's sensitive consent.
  bool sensitive = false;
  // A trigger of a marketing purpose whose decision reads segments, scores or predictions
  // (directly or transitively): profiling, so it never fires for a customer who objected to
  // personalisation.
  bool profiling = false;
  std::map<std::string, std::string> vars;
  Once once = Once::kEvery;
  int64_t grace_us = 86'400'000'000;  // a timer missed by more than this does not fire
  config::SourcePos pos;
};

struct RuleSet {
  std::vector<Metric> metrics;
  std::vector<LifecycleStage> lifecycle;
  std::vector<TagRule> tags;
  std::vector<Segment> segments;  // in dependency order
  std::vector<Score> scores;
  std::vector<Model> models;
  std::vector<Trigger> triggers;

  const Trigger* FindTrigger(std::string_view id) const;
  const Segment* FindSegment(std::string_view name) const;
  const Metric* FindMetric(std::string_view name) const;
  // The static types of the metrics, for parsing expressions against this set.
  std::map<std::string, Type> MetricTypes() const;
};

// Parses and checks `files` against `config`. InvalidArgument lists every problem, one
// "file:line:col: message" per line.
Result<RuleSet> ParseRules(const std::vector<config::SourceFile>& files,
                           const config::Config& config);

}  // namespace portrait::rules
