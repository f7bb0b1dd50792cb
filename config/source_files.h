// Reading the rule files named by [daemon] rules (glob patterns, sorted, each pattern's matches
// in name order). The only file I/O of rule loading; parsing is rules/'s job.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"

namespace portrait::config {

struct SourceFile {
  std::string path;
  std::string text;
};

// Every file matching the config's rule patterns. A pattern matching nothing is not an error
// (a fresh install may have no rules); an unreadable file is (IOError naming it).
Result<std::vector<SourceFile>> ReadRuleFiles(const Config& config);

}  // namespace portrait::config
