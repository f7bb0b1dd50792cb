#include "config/source_files.h"

#include <glob.h>

#include <fstream>
#include <sstream>

namespace portrait::config {

Result<std::vector<SourceFile>> ReadRuleFiles(const Config& config) {
  std::vector<SourceFile> out;
  for (const std::string& pattern : config.daemon.rules) {
    glob_t matches{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
    for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) {
      std::string path = matches.gl_pathv[i];
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        globfree(&matches);
        return Error(Status::IOError("cannot read rule file " + path));
      }
      std::stringstream text;
      text << in.rdbuf();
      out.push_back(SourceFile{path, text.str()});
    }
    globfree(&matches);
  }
  return out;
}

}  // namespace portrait::config
