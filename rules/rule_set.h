// A loaded set of rules: metrics, lifecycle stages and triggers from TOML rule files, with every
// expression and template parsed and type-checked, and every trigger checked against the access
// policy: a trigger may only read and send fields its purpose may use in clear, and sensitive
// fields only if the purpose declares sensitive = true. Errors name file:line:col and the key or
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

enum class TriggerKind { kEvent, kAbsence, kAnniversary, kLifecycle, kSchedule };
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
  std::map<std::string, std::string> vars;
  Once once = Once::kEvery;
  int64_t grace_us = 86'400'000'000;  // a timer missed by more than this does not fire
  config::SourcePos pos;
};

struct RuleSet {
  std::vector<Metric> metrics;
  std::vector<LifecycleStage> lifecycle;
  std::vector<Trigger> triggers;

  const Trigger* FindTrigger(std::string_view id) const;
  // The static types of the metrics, for parsing expressions against this set.
  std::map<std::string, Type> MetricTypes() const;
};

// Parses and checks `files` against `config`. InvalidArgument lists every problem, one
// "file:line:col: message" per line.
Result<RuleSet> ParseRules(const std::vector<config::SourceFile>& files,
                           const config::Config& config);

}  // namespace portrait::rules
