// The rules in force: a checked RuleSet, the Engine over it and the config it was checked
// against, replaced whole on reload (see base/latest.h).
#pragma once

#include <memory>
#include <string>

#include "base/latest.h"
#include "config/config.h"
#include "rules/engine.h"
#include "rules/rule_set.h"

namespace portrait::daemon {

struct LoadedRules {
  LoadedRules(std::shared_ptr<const config::Config> checked_against, rules::RuleSet loaded,
              std::string fingerprint, std::string shared_fingerprint = std::string())
      : config(std::move(checked_against)),
        set(std::move(loaded)),
        engine(set, config->daemon.timezone),
        fingerprint(std::move(fingerprint)),
        shared_fingerprint(shared_fingerprint.empty() ? this->fingerprint
                                                      : std::move(shared_fingerprint)) {}
  LoadedRules(const LoadedRules&) = delete;

  // Every purpose and field the rules name is in it.
  const std::shared_ptr<const config::Config> config;
  const rules::RuleSet set;
  const rules::Engine engine;  // refers to `set`
  // Hex digest of what the timers depend on: the config's time zone and the rule files' names
  // and contents.
  const std::string fingerprint;
  // The same of the rule files' base names, not their directories: equal on nodes whose rules
  // are alike wherever each keeps them (the partitions' re-arm marks, docs/DECISIONS.md 173).
  const std::string shared_fingerprint;
};

// Reads and checks the rule files `config` names. InvalidArgument lists every problem with
// file:line:col; the caller keeps its old rules then.
Result<std::shared_ptr<const LoadedRules>> LoadRules(std::shared_ptr<const config::Config> config);

using RulesHolder = Latest<LoadedRules>;

}  // namespace portrait::daemon
