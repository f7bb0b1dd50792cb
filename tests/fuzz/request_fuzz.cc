// libFuzzer harness for the whole request path without sockets: Api::Handle (method, target,
// headers, body in; response out) over a real portraitd's parts on a temporary SQLCipher data
// directory made from the example config, with a token of every example role. The first bytes
// of an input choose the method, the token, X-Purpose and an endpoint prefix; the rest is the
// target's tail, then (after the first newline) the body. Run through scripts/fuzz.sh.
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "config/loader.h"
#include "crypto/blind_index.h"
#include "daemon/api.h"
#include "daemon/server.h"
#include "store/data_dir.h"
#include "store/token_registry.h"

namespace {

using namespace portrait;
namespace fs = std::filesystem;

struct Harness {
  SystemClock clock;
  spdlog::logger log{"fuzz", std::make_shared<spdlog::sinks::null_sink_st>()};
  std::vector<std::string> tokens = {"", "Bearer ptk_not_a_token"};
  std::unique_ptr<daemon::Server> server;

  Harness() {
    const fs::path dir = fs::temp_directory_path() / ("portrait-fuzz-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(fs::path(PORTRAIT_SOURCE_DIR) / "examples/portrait.toml", dir / "portrait.toml");
    fs::copy(fs::path(PORTRAIT_SOURCE_DIR) / "examples/rules", dir / "rules",
             fs::copy_options::recursive);
    config::Config config = config::LoadConfig(dir / "portrait.toml").value();
    {
      store::DataDir data = store::InitDataDir(config).value();
      for (const char* role : {"admin", "marketer", "care_agent", "auditor"}) {
        tokens.push_back(
            "Bearer " +
            store::CreateToken(data, std::string(role) + "-fuzz", role, "fuzz", clock).value());
      }
    }
    server = daemon::Server::Open(config, clock, log).value();
  }
};

const char* const kMethods[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};
const char* const kPurposes[] = {nullptr, "service", "care", "marketing", ""};
const char* const kPrefixes[] = {
    "/v1/profiles/",    "/v1/events", "/v1/rules/test",  "/v1/tasks",  "/v1/audit",
    "/v1/tokens",       "/metrics",   "/v1/profiles?",   "/v1/admin/", "/healthz",
    "/v1/openapi.json", "/",          "/v1/profiles/c1/"};

template <size_t N, typename T>
const T& Pick(const T (&options)[N], uint8_t byte) {
  return options[byte % N];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;
  if (size < 4) {
    return 0;
  }
  std::string_view rest(reinterpret_cast<const char*>(data) + 4, size - 4);
  const size_t newline = rest.find('\n');
  daemon::HttpRequest request;
  request.method_string(Pick(kMethods, data[0]));
  request.target(std::string(Pick(kPrefixes, data[3])) + std::string(rest.substr(0, newline)));
  request.version(11);
  if (const std::string& token = harness.tokens[data[1] % harness.tokens.size()]; !token.empty()) {
    request.set(daemon::http::field::authorization, token);
  }
  if (const char* purpose = Pick(kPurposes, data[2])) {
    request.set("X-Purpose", purpose);
  }
  if (newline != std::string_view::npos) {
    request.body() = std::string(rest.substr(newline + 1));
  }
  request.prepare_payload();
  std::promise<int> answered;
  harness.server->api().Handle(std::move(request), "127.0.0.1",
                               [&](daemon::HttpResponse r) { answered.set_value(r.result_int()); });
  const int status = answered.get_future().get();
  if (status == 500) {
    __builtin_trap();  // an internal error is a finding: every refusal has a 4xx of its own
  }
  return 0;
}
