// portraitd: loads portrait.toml and the rules, opens the encrypted data directory, and serves the
// HTTP API until SIGTERM or SIGINT; SIGHUP reloads the rules. See daemon/server.h for the parts.
// Under systemd (NOTIFY_SOCKET set) it reports ready, reloading and stopping
// (daemon/service_notifier.h; the unit is packaging/portraitd.service).
//
// Threads: `--io-threads` run the io_context (HTTP, JSON, validation, reads); one writer thread
// commits (daemon/writer.h); one scheduler thread sweeps due timers.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/process.h"
#include "base/time_format.h"
#include "config/loader.h"
#include "daemon/server.h"
#include "daemon/service_notifier.h"

namespace {

using namespace portrait;
using daemon::ServiceNotifier;

// PORTRAIT_TEST_NOW=RFC3339 starts the daemon's clock at that instant (time then flows): how
// integration tests run a real daemon on a chosen day. Never set it in production.
std::unique_ptr<Clock> MakeClock(spdlog::logger& log) {
  const char* test_now = std::getenv("PORTRAIT_TEST_NOW");
  if (!test_now || !*test_now) {
    return std::make_unique<SystemClock>();
  }
  auto at = ParseRfc3339(test_now);
  if (!at) {
    log.error("PORTRAIT_TEST_NOW: expected an RFC 3339 time; ignoring it");
    return std::make_unique<SystemClock>();
  }
  log.warn("PORTRAIT_TEST_NOW is set: the clock starts at {} (tests only)", test_now);
  return std::make_unique<ShiftedClock>(std::chrono::microseconds(*at - SystemClock().NowUs()));
}

// Stops gracefully on SIGINT/SIGTERM, reloads on SIGHUP, for as long as it lives; tells the
// service manager about each.
class SignalHandlers {
 public:
  SignalHandlers(daemon::Server& server, ServiceNotifier& notifier, std::string address,
                 spdlog::logger& log)
      : server_(server),
        notifier_(notifier),
        address_(std::move(address)),
        log_(log),
        stop_(server.io(), SIGINT, SIGTERM),
        hup_(server.io(), SIGHUP) {
    stop_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) {
        log_.info("signal {} received; finishing requests in flight", signal);
        notifier_.Stopping();
        server_.Shutdown();
      }
    });
    WaitForHup();
  }

 private:
  void WaitForHup() {
    hup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) {
        log_.info("SIGHUP: reloading rules");
        notifier_.Reloading();
        const bool reloaded = server_.Reload().ok();
        notifier_.Ready("serving on http://" + address_ +
                        (reloaded ? "; config and rules reloaded"
                                  : "; reload refused, the config and rules in force stay (see "
                                    "the log)"));
        WaitForHup();
      }
    });
  }

  daemon::Server& server_;
  ServiceNotifier& notifier_;
  const std::string address_;
  spdlog::logger& log_;
  boost::asio::signal_set stop_;
  boost::asio::signal_set hup_;
};

// Listens, serves until a stop signal, signs the final audit checkpoint. The exit code.
int Serve(daemon::Server& server, const config::Config& config, const std::string& listen,
          int io_threads, spdlog::logger& log) {
  auto bound = server.Listen(listen.empty() ? config.daemon.listen : listen);
  if (!bound) {
    log.error("{}", bound.error().message());
    return 1;
  }
  ServiceNotifier notifier(log);
  SignalHandlers signals(server, notifier, *bound, log);
  log.info("portraitd listening on http://{} ({} profiles, {} triggers, pid {})", *bound,
           server.profiles(), server.triggers(), ::getpid());
  notifier.Ready(fmt::format("serving on http://{}: {} profiles, {} triggers", *bound,
                             server.profiles(), server.triggers()));
  std::cout << "try: curl -H \"Authorization: Bearer $(cat " << config.daemon.data_dir
            << "/admin.token)\" -H 'X-Purpose: service' http://" << *bound
            << "/v1/profiles?email=someone@example.com" << std::endl;
  server.Run(io_threads);
  if (Status s = server.Close(); !s.ok()) {
    log.error("could not sign the final audit checkpoint: {}", s.ToString());
    return 1;
  }
  log.info("portraitd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  HardenProcess();
  // A peer or an exec sink's command that closes its end must fail that write (EPIPE), not
  // terminate the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "portraitd - the portrait daemon: encrypted, consent-aware customer profiles.\n"
      "Create a data directory first with `portraitctl init --config FILE`; it writes the first\n"
      "API token, for the admin role, to DATA_DIR/admin.token.\n"
      "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the rule files."};
  std::string config_path = "portrait.toml";
  std::string listen;
  int io_threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  app.add_option("-c,--config", config_path, "path of portrait.toml")->capture_default_str();
  app.add_option("--listen", listen, "address:port to serve on (overrides [daemon] listen)");
  app.add_option("--io-threads", io_threads, "threads serving HTTP")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "debug adds a line per profile written, erased or merged and per consent "
                 "record (by internal id); info logs their counts once a minute")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  auto log = spdlog::stdout_color_mt("portraitd");
  log->set_level(spdlog::level::from_str(log_level));
  auto clock = MakeClock(*log);
  auto config = config::LoadConfig(config_path);
  if (!config) {
    log->error("config: {}", config.error().message());
    return 1;
  }
  auto server = daemon::Server::Open(*config, *clock, *log);
  if (!server) {
    log->error("cannot start: {}", server.error().message());
    return 1;
  }
  return Serve(**server, *config, listen, io_threads, *log);
}
