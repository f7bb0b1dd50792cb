// portrait-sample: loads generated sample customers — profiles, consents, orders and carts —
// into a running portraitd over its HTTP API, so the rules see every event (metrics, lifecycle
// stages, timers, tasks) as they would in production. Used by the quick start.
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/clock.h"
#include "base/process.h"
#include "cli/daemon_connection.h"
#include "examples/sample_data.h"

int main(int argc, char** argv) {
  using namespace portrait;
  HardenProcess();
  CLI::App app{
      "portrait-sample - load generated sample customers into a running portraitd\n"
      "(profiles, consents, and two years of orders and carts; the same seed gives the same "
      "customers)"};
  cli::DaemonOptions daemon;
  daemon.purpose = "service";
  int customers = 300;
  uint64_t seed = 1;
  cli::AddDaemonOptions(&app, daemon);
  app.add_option("-n,--customers", customers, "how many customers")->capture_default_str();
  app.add_option("--seed", seed, "generator seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto conn = cli::DaemonConnection::Open(daemon);
  if (!conn) {
    return cli::Fail("sample", conn.error());
  }
  const int64_t now = SystemClock().Now().time_since_epoch().count();
  examples::SampleData sample(seed);
  int64_t events = 0, consents = 0;
  for (int i = 0; i < customers; ++i) {
    examples::SampleCustomer c = sample.Customer(i, now);
    const std::string path = "/v1/profiles/" + c.external_id;
    auto put = conn->Call("PUT", path, c.patch.dump());
    if (!put) {
      return cli::Fail("sample", put.error().WithContext("customer " + std::to_string(i)));
    }
    for (const auto& body : c.consents) {
      auto r = conn->Call("POST", path + "/consents", body.dump());
      if (!r) {
        return cli::Fail("sample", r.error().WithContext("customer " + std::to_string(i)));
      }
      ++consents;
    }
    if (!c.events.empty()) {
      auto r = conn->Call("POST", "/v1/events", c.events.dump());
      if (!r) {
        return cli::Fail("sample", r.error().WithContext("customer " + std::to_string(i)));
      }
      events += (*r)["accepted"].get<int64_t>();
    }
    if ((i + 1) % 25 == 0 || i + 1 == customers) {
      const int width = 30, done = width * (i + 1) / customers;
      std::cerr << "\r[" << std::string(done, '#') << std::string(width - done, ' ') << "] "
                << (i + 1) << "/" << customers << " customers" << std::flush;
    }
  }
  std::cerr << "\nloaded " << customers << " customers, " << consents << " consent records, "
            << events << " events\n";
  return 0;
}
