// libFuzzer harness for the rule loader: one rule file checked against the example config.
// Run through scripts/fuzz.sh.
#include <cstdint>
#include <string>

#include "config/loader.h"
#include "rules/rule_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrait;
  static const config::Config config =
      config::LoadConfig(std::string(PORTRAIT_SOURCE_DIR) + "/examples/portrait.toml").value();
  std::vector<config::SourceFile> files = {
      {"/fuzz/rules/fuzz.toml", std::string(reinterpret_cast<const char*>(data), size)}};
  (void)rules::ParseRules(files, config);
  return 0;
}
