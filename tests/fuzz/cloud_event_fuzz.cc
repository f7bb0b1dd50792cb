// libFuzzer harness for the event body: the JSON limits (request_limits.h) and the CloudEvents
// parser and checks, as POST /v1/events runs them on an I/O thread. Run through scripts/fuzz.sh.
#include <cstdint>
#include <string_view>

#include "crypto/blind_index.h"
#include "daemon/cloud_event.h"
#include "daemon/request_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrait;
  static const crypto::SecretBytes key = crypto::SecretBytes::Random(32).value();
  static const crypto::BlindIndex blind = crypto::BlindIndex::Create(key, 16).value();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = daemon::ParseJsonBody(text);
  if (!body) {
    return 0;
  }
  auto events = daemon::ParseCloudEvents(*body, 1'700'000'000'000'000, blind);
  if (events) {
    for (const auto& e : *events) {
      (void)e.data.dump();  // what the writer seals: must not throw on anything parsed
    }
  }
  return 0;
}
