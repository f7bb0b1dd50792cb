// Segment membership costs. Prints figures; asserts nothing.
//
//  1. The membership update per profile change per segment (target <= 5 us):
//     Engine::UpdateSegments over ten segments and realistic facts (fields, metrics, tags, a
//     stage), the time per call divided by the segments.
//  2. The base-wide re-evaluation of ten segments through a real portraitd (target <= 5 s at
//     1,000,000 profiles): N generated customers imported with their events, the daemon
//     stopped, the segments' thresholds changed, and the daemon's own figure for the pass that
//     follows its start (from its log).
//
//   build-bench/bin/segments_bench [--customers N] [--updates N] [--keep]
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "bench/scale_daemon.h"
#include "bench/scale_fixture.h"
#include "config/loader.h"
#include "rules/engine.h"
#include "store/data_dir.h"
#include "store/token_registry.h"

namespace portrait::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

// Part 1: CPU time per UpdateSegments call, per segment.
void MembershipUpdate(int updates) {
  auto config = config::LoadConfig(PORTRAIT_SOURCE_DIR "/examples/portrait.toml").value();
  auto files = config::ReadRuleFiles(config).value();
  files.push_back(config::SourceFile{"segments.toml", SegmentRules(2)});
  auto rules = rules::ParseRules(files, config);
  if (!rules) {
    std::fprintf(stderr, "%s\n", rules.error().ToString().c_str());
    std::exit(1);
  }
  rules::Engine engine(*rules, config.daemon.timezone);
  rules::ProfileFacts profile;
  profile.id = 1;
  profile.fields = {{"name", "Li Na"}, {"city", "Hangzhou"}, {"gender", "female"}};
  profile.tags = {"vip"};
  profile.lifecycle = "active";
  const int64_t now = 1'790'000'000'000'000;
  profile.metrics = {{"orders", 3}, {"spent", 250.0}, {"last_order", now - 86'400'000'000}};
  size_t transitions = 0;
  const std::clock_t start = std::clock();
  for (int i = 0; i < updates; ++i) {
    profile.metrics["orders"] = i % 7;  // members come and go
    transitions += engine.UpdateSegments(profile, now).size();
  }
  const double us = 1e6 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  std::printf("membership update: %d calls over %d segments, %zu transitions\n", updates, kSegments,
              transitions);
  std::printf("  %.3f us per call, %.3f us per segment (target <= 5 us)\n", us / updates,
              us / updates / kSegments);
}

void Die(const std::string& what, const cli::HttpResult& r) {
  std::cerr << what << ": answer " << r.status << ": " << r.body.substr(0, 400) << "\n";
  std::exit(1);
}

// Imports `customers` profiles and their events on two connections.
void Load(int port, const std::string& token, int64_t customers) {
  std::atomic<int64_t> next{0};
  const int64_t now_s = SystemClock().NowUs() / 1'000'000;
  auto work = [&](bool events) {
    cli::HttpClient client(port);
    const int64_t step = events ? 160 : 2000;
    for (int64_t b = next.fetch_add(step); b < customers; b = next.fetch_add(step)) {
      json body = json::array();
      for (int64_t i = b; i < std::min(customers, b + step); ++i) {
        events ? AppendEvents(i, now_s, body) : (void)body.push_back(ImportRow(i));
      }
      auto r = events ? client.Send("POST", "/v1/events", body.dump(), Headers(token))
                      : client.Send("POST", "/v1/import/profiles", json{{"rows", body}}.dump(),
                                    Headers(token));
      if (r.status != (events ? 202 : 200)) {
        Die(events ? "events" : "import", r);
      }
    }
  };
  for (bool events : {false, true}) {
    next = 0;
    std::thread a(work, events), b(work, events);
    a.join();
    b.join();
  }
}

// Part 2: the pass after a change of the ten segments, through a child portraitd.
void Reevaluation(int64_t customers, const std::string& portraitd, bool keep) {
  const fs::path dir = fs::temp_directory_path() / ("portrait-seg-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(PORTRAIT_SOURCE_DIR) / "examples/portrait.toml", dir / "portrait.toml");
  fs::copy(fs::path(PORTRAIT_SOURCE_DIR) / "examples/rules", dir / "rules");
  std::ofstream(dir / "rules/segments.toml") << SegmentRules(2);
  auto config = config::LoadConfig((dir / "portrait.toml").string()).value();
  SystemClock clock;
  const std::string token = [&] {
    auto data = store::InitDataDir(config).value();
    return store::CreateToken(data, "bench", "admin", "bench", clock).value();
  }();
  ChildDaemon daemon(portraitd, (dir / "portrait.toml").string(), (dir / "portraitd.log").string(),
                     2);
  if (daemon.Start() < 0) {
    std::cerr << "portraitd did not start; see " << daemon.log_path() << "\n";
    std::exit(1);
  }
  const auto t0 = Steady::now();
  Load(daemon.port(), token, customers);
  std::printf("loaded %lld customers and their events in %.1f s\n",
              static_cast<long long>(customers), Seconds(t0));
  daemon.Stop();
  std::ofstream(dir / "rules/segments.toml") << SegmentRules(3);
  const std::string needle = "profiles re-evaluated";
  const int before = GrepLog(daemon.log_path(), needle).first;
  const auto t1 = Steady::now();
  daemon.Start();
  const std::string line = AwaitLogLine(daemon.log_path(), needle, before, 3600);
  // The daemon's CPU time from its start to the pass's end (its start-up included): what the
  // pass costs on a machine shared with other work.
  const double cpu = daemon.CpuSeconds();
  std::printf(
      "re-evaluation of %d segments at %lld profiles: wall %.2f s from the start, "
      "daemon CPU %.2f s\n",
      kSegments, static_cast<long long>(customers), Seconds(t1), cpu);
  std::printf("  daemon: %s\n",
              line.empty() ? "(no pass within the hour)" : line.substr(line.find(needle)).c_str());
  std::printf("  (target <= 5 s at 1,000,000 profiles)\n");
  daemon.Stop();
  if (!keep) {
    fs::remove_all(dir);
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"segments_bench - segment membership costs"};
  int64_t customers = 20'000;
  int updates = 1'000'000;
  bool keep = false;
  std::string portraitd;
  app.add_option("--customers", customers, "profiles for the re-evaluation (0: skip it)")
      ->capture_default_str();
  app.add_option("--updates", updates, "UpdateSegments calls")->capture_default_str();
  app.add_option("--portraitd", portraitd, "daemon binary (default: beside this one)");
  app.add_flag("--keep", keep, "keep the working directory");
  CLI11_PARSE(app, argc, argv);
  if (portraitd.empty()) {
    portraitd = (fs::canonical("/proc/self/exe").parent_path() / "portraitd").string();
  }
  MembershipUpdate(std::max(updates, 1));
  if (customers > 0) {
    Reevaluation(customers, portraitd, keep);
  }
  return 0;
}

}  // namespace
}  // namespace portrait::bench

int main(int argc, char** argv) { return portrait::bench::Main(argc, argv); }
