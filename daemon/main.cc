// portraitd: loads portrait.toml and the rules, opens the encrypted data directory, and serves the
// HTTP API until SIGTERM or SIGINT; SIGHUP reloads the rules. The io_context, threads and every
// component are built here, explicitly; there are no singletons.
//
// Threads: `io_threads` run the io_context (HTTP parsing, JSON, validation, reads); one writer
// thread commits (daemon/writer.h); one scheduler thread sweeps due timers.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/process.h"
#include "base/time_format.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"
#include "daemon/scheduler.h"
#include "store/data_dir.h"

namespace {

using namespace portrait;

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
  return std::make_unique<ShiftedClock>(std::chrono::microseconds(
      *at - SystemClock().Now().time_since_epoch().count()));
}

void RunIo(boost::asio::io_context& io, int threads) {
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (auto& t : pool) {
    t.join();
  }
}

}  // namespace

int main(int argc, char** argv) {
  HardenProcess();

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
  CLI11_PARSE(app, argc, argv);

  auto log = spdlog::stdout_color_mt("portraitd");
  auto clock = MakeClock(*log);
  auto config = config::LoadConfig(config_path);
  if (!config) {
    log->error("config: {}", config.error().message());
    return 1;
  }
  if (!listen.empty()) {
    config->daemon.listen = listen;
  }
  auto rules = daemon::LoadRules(*config);
  if (!rules) {
    log->error("rules:\n{}", rules.error().message());
    return 1;
  }
  auto data = store::OpenDataDir(*config);
  if (!data) {
    log->error("cannot open data directory: {}", data.error().message());
    return 1;
  }
  auto signer = crypto::AuditSigner::Create(data->keys.audit_seed());
  if (!signer) {
    log->error("audit signer: {}", signer.error().message());
    return 1;
  }
  auto token_hasher = crypto::BlindIndex::Create(data->keys.token_key(), 32);
  if (!token_hasher) {
    log->error("token key: {}", token_hasher.error().message());
    return 1;
  }
  store::Store& store = *data->store;
  store::AuditLog audit(store, *signer, *clock);
  store::ProfileVault vault(*config, store, data->keys, data->blind, *clock, &audit);
  store::TokenRegistry tokens(store, *token_hasher, *clock);
  daemon::ConsentService consents(*config, store, vault, audit, *clock, *log);
  daemon::ProfileService profiles(*config, vault, consents, audit, *clock, *log);
  daemon::RulesHolder rules_holder(*rules);
  daemon::DaemonMetrics metrics;
  daemon::Ingestor ingestor(*config, store, vault, consents, audit, rules_holder, data->blind,
                            *clock);
  daemon::Writer writer(ingestor, metrics);
  daemon::Authenticator auth(tokens, *token_hasher, *clock);

  auto reload = [&]() -> Status {
    auto next = daemon::LoadRules(*config);
    if (!next) {
      log->error("reload refused, keeping the rules in force:\n{}", next.error().message());
      return next.error();
    }
    rules_holder.Set(*next);
    log->info("rules reloaded: {} triggers", (*next)->set.triggers.size());
    return audit.Append({store::AuditEntry{
        clock->Now().time_since_epoch().count(), "system", "rules.reload", 0, "",
        nlohmann::json{{"triggers", (*next)->set.triggers.size()},
                       {"fingerprint", (*next)->fingerprint}}
            .dump()}});
  };
  daemon::Api api(daemon::ApiDeps{*config, store, vault, tokens, audit, profiles, consents,
                                  ingestor, writer, rules_holder, auth, metrics, data->blind,
                                  *clock, *log, reload});

  boost::asio::io_context io;
  daemon::HttpServer server(
      io, daemon::HttpLimits{},
      [&api](daemon::HttpRequest&& request, const std::string& remote, daemon::Reply reply) {
        api.Handle(std::move(request), remote, std::move(reply));
      });
  auto bound = server.Listen(config->daemon.listen);
  if (!bound) {
    log->error("{}", bound.error().message());
    return 1;
  }
  daemon::Scheduler scheduler(writer, ingestor, metrics, *log);

  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(io);
  int drain_ticks = 0;
  bool answers_written = false;
  std::function<void()> wait_for_drain = [&] {
    // Wait (10 s at most) until every request in flight is answered, then one more tick for the
    // answers to be written.
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](const boost::system::error_code&) {
      const bool busy = api.in_flight() > 0 || metrics.writer_queue.load() > 0;
      if (busy && ++drain_ticks < 500) {
        return wait_for_drain();
      }
      if (!answers_written) {
        answers_written = true;
        return wait_for_drain();
      }
      io.stop();
    });
  };
  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log->info("signal {} received; finishing requests in flight", signal);
    server.StopAccepting();
    api.StartShutdown();
    wait_for_drain();
  });
  boost::asio::signal_set hup(io, SIGHUP);
  std::function<void()> wait_for_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) {
        return;
      }
      log->info("SIGHUP: reloading rules");
      (void)reload();
      wait_for_hup();
    });
  };
  wait_for_hup();

  auto count = store.CountProfiles();
  log->info("portraitd listening on http://{} ({} profiles, {} triggers, pid {})", *bound,
            count ? *count : -1, (*rules)->set.triggers.size(), ::getpid());
  std::cout << "try: curl -H \"Authorization: Bearer $(cat " << config->daemon.data_dir
            << "/admin.token)\" http://" << *bound << "/v1/profiles?email=someone@example.com"
            << std::endl;
  RunIo(io, io_threads);

  scheduler.Stop();
  writer.Stop();  // commits whatever is queued
  // Sign the audit chain's head, so that cutting records off its end is detectable.
  if (Status s = audit.Checkpoint(); !s.ok()) {
    log->error("could not sign the final audit checkpoint: {}", s.ToString());
    return 1;
  }
  log->info("portraitd stopped");
  return 0;
}
