// portrait-sample: loads generated sample customers into a data directory, offline (the daemon
// must not be running on it). Used by the quick start and by benchmarks.
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/clock.h"
#include "base/process.h"
#include "config/loader.h"
#include "examples/sample_data.h"
#include "store/data_dir.h"
#include "store/profile_vault.h"

int main(int argc, char** argv) {
  using namespace portrait;
  HardenProcess();
  CLI::App app{"portrait-sample - load generated sample customers into a data directory"};
  std::string config_path = "portrait.toml";
  int customers = 300;
  uint64_t seed = 1;
  app.add_option("-c,--config", config_path, "path of portrait.toml")->capture_default_str();
  app.add_option("-n,--customers", customers, "how many customers")->capture_default_str();
  app.add_option("--seed", seed, "generator seed; the same seed gives the same customers")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "portrait-sample: " << config.error().message() << "\n";
    return 1;
  }
  auto data = store::OpenDataDir(*config);
  if (!data) {
    std::cerr << "portrait-sample: " << data.error().message() << "\n";
    return 1;
  }
  SystemClock clock;
  store::ProfileVault vault(*config, *data->store, data->keys, data->blind, clock);
  examples::SampleData sample(seed);
  for (int i = 0; i < customers; ++i) {
    examples::SampleCustomer c = sample.Customer(i);
    auto r = vault.Upsert(c.external_id, c.patch);
    if (!r) {
      std::cerr << "portrait-sample: customer " << i << ": " << r.error().message() << "\n";
      return 1;
    }
    if ((i + 1) % 50 == 0 || i + 1 == customers) {
      std::cerr << "\rloaded " << (i + 1) << "/" << customers << " customers" << std::flush;
    }
  }
  std::cerr << "\n";
  return 0;
}
