// Helpers for rules tests: the shipped example config and rules, instants, a profile.
#pragma once

#include <gtest/gtest.h>

#include "base/time_format.h"
#include "config/loader.h"
#include "rules/engine.h"

namespace portrait::rules::testing {

inline config::Config ExampleConfig() {
  auto config = config::LoadConfig(std::string(PORTRAIT_SOURCE_DIR) + "/examples/portrait.toml");
  EXPECT_TRUE(config) << config.error().ToString();
  return *config;
}

inline RuleSet ExampleRules(const config::Config& config) {
  auto files = config::ReadRuleFiles(config);
  EXPECT_TRUE(files && files->size() == 3u);
  auto rules = ParseRules(*files, config);
  EXPECT_TRUE(rules) << rules.error().ToString();
  return rules ? std::move(*rules) : RuleSet{};
}

// Rules from one in-memory file named rules.toml, against `config`.
inline Result<RuleSet> RulesFrom(const std::string& text, const config::Config& config) {
  return ParseRules({config::SourceFile{"rules.toml", text}}, config);
}

inline int64_t T(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kDay = 24 * kHour;

}  // namespace portrait::rules::testing
