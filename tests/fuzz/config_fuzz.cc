// libFuzzer harness for the config loader (portrait.toml text -> Config or file:line:col
// problems). Run through scripts/fuzz.sh.
#include <cstdint>
#include <string_view>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)portrait::config::ParseConfig(text, "/fuzz/portrait.toml");
  return 0;
}
