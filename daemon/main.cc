// portraitd: loads portrait.toml, opens the encrypted data directory and serves until SIGTERM
// or SIGINT. The io_context, signal set and every component are built here, explicitly; there
// are no singletons.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "base/process.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "store/audit_log.h"
#include "store/data_dir.h"

int main(int argc, char** argv) {
  using namespace portrait;
  HardenProcess();

  CLI::App app{
      "portraitd - the portrait daemon: encrypted, consent-aware customer profiles.\n"
      "Create a data directory first with `portraitctl init --config FILE`."};
  std::string config_path = "portrait.toml";
  app.add_option("-c,--config", config_path, "path of portrait.toml")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto config = config::LoadConfig(config_path);
  if (!config) {
    spdlog::error("config: {}", config.error().message());
    return 1;
  }
  auto data = store::OpenDataDir(*config);
  if (!data) {
    spdlog::error("cannot open data directory: {}", data.error().message());
    return 1;
  }
  SystemClock clock;
  auto signer = crypto::AuditSigner::Create(data->keys.audit_seed());
  if (!signer) {
    spdlog::error("audit signer: {}", signer.error().message());
    return 1;
  }
  store::AuditLog audit(*data->store, *signer, clock);
  auto profiles = data->store->CountProfiles();
  spdlog::info("data directory {} open: {} profiles", config->daemon.data_dir,
               profiles ? *profiles : -1);

  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {} received; shutting down", signal);
    io.stop();
  });
  spdlog::info("portraitd ready (pid {}); stop with Ctrl-C or SIGTERM", ::getpid());
  io.run();
  // Sign the audit chain's head, so that cutting records off its end is detectable.
  if (Status s = audit.Checkpoint(); !s.ok()) {
    spdlog::error("could not sign the final audit checkpoint: {}", s.ToString());
    return 1;
  }
  spdlog::info("portraitd stopped");
  return 0;
}
