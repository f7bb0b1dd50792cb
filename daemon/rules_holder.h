// The rules in force: a checked RuleSet and the Engine over it, replaced whole on reload. Readers
// take a shared_ptr and keep using the set they took, so a reload never changes rules under a
// running transaction.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"
#include "rules/engine.h"
#include "rules/rule_set.h"

namespace portrait::daemon {

struct LoadedRules {
  LoadedRules(rules::RuleSet loaded, std::string default_timezone, std::string fingerprint)
      : set(std::move(loaded)),
        engine(set, std::move(default_timezone)),
        fingerprint(std::move(fingerprint)) {}
  LoadedRules(const LoadedRules&) = delete;

  const rules::RuleSet set;
  const rules::Engine engine;     // refers to `set`
  const std::string fingerprint;  // hex digest of the rule files' names and contents
};

// Reads and checks the rule files `config` names. InvalidArgument lists every problem with
// file:line:col; the caller keeps its old rules then.
Result<std::shared_ptr<const LoadedRules>> LoadRules(const config::Config& config);

class RulesHolder {
 public:
  explicit RulesHolder(std::shared_ptr<const LoadedRules> rules) : rules_(std::move(rules)) {}

  std::shared_ptr<const LoadedRules> Get() const {
    std::lock_guard lock(mu_);
    return rules_;
  }
  void Set(std::shared_ptr<const LoadedRules> rules) {
    std::lock_guard lock(mu_);
    rules_ = std::move(rules);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const LoadedRules> rules_;
};

}  // namespace portrait::daemon
