// Rule evaluation cost: one event for one profile against 100 event triggers (each with its own
// `when`), plus metrics and lifecycle re-evaluation — the work done per event on ingest. Prints
// CPU time per event; asserts nothing.
//
//   build/bin/rules_bench [--events N]
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "config/loader.h"
#include "rules/engine.h"

int main(int argc, char** argv) {
  using namespace portrait;
  int events = 200000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0) {
      events = std::atoi(argv[i + 1]);
    }
  }
  auto config = config::LoadConfig(PORTRAIT_SOURCE_DIR "/examples/portrait.toml").value();
  auto files = config::ReadRuleFiles(config).value();
  // Keep the example metrics and stages; add 100 event triggers with varied conditions.
  std::string extra;
  const char* conditions[] = {
      "metrics.orders >= 5 and event.data.amount > 100",
      "days_since(metrics.last_order) <= 30 or has_tag('interest/music')",
      "event.data.category in ['jazz', 'rock', 'pop'] and lifecycle == 'active'",
      "fields.city == 'Hangzhou' and metrics.spent > 1000",
      "not (metrics.orders == 1) and hours_since(event.time) < 24",
  };
  for (int i = 0; i < 100; ++i) {
    extra += "[[trigger]]\nid = \"t" + std::to_string(i) + "\"\npurpose = \"care\"\n" +
             "on.event = \"order.placed\"\nwhen = \"" + conditions[i % 5] + "\"\n" +
             "task = \"x\"\nchannel = \"sms\"\nsink = \"care-queue\"\nmessage = \"hi "
             "{{fields.name}}\"\n";
  }
  files.push_back(config::SourceFile{"bench.toml", extra});
  auto rules = rules::ParseRules(files, config);
  if (!rules) {
    std::fprintf(stderr, "%s\n", rules.error().ToString().c_str());
    return 1;
  }
  rules::Engine engine(*rules, config.daemon.timezone);
  rules::ProfileFacts profile;
  profile.id = 1;
  profile.fields = {{"name", "Li Na"}, {"city", "Hangzhou"}, {"birthday", "1990-06-15"}};
  profile.tags = {"interest/music/jazz", "vip"};
  profile.lifecycle = "active";
  rules::EventInput event{
      "e", "order.placed", 1'790'000'000'000'000, {{"amount", 120.5}, {"category", "jazz"}}};
  size_t fired = 0;
  std::clock_t start = std::clock();
  for (int i = 0; i < events; ++i) {
    event.time_us += 60'000'000;
    rules::EventOutcome o = engine.OnEvent(profile, event, event.time_us);
    fired += o.fired.size();
    profile.metrics = std::move(o.metrics);
  }
  double cpu_us = 1e6 * double(std::clock() - start) / CLOCKS_PER_SEC / events;
  std::printf("rule evaluation, one event against %zu triggers (+4 metrics, 4 stages)\n",
              rules->triggers.size());
  std::printf("  %d events, %.2f us CPU per event, %.0f triggers fired per event on average\n",
              events, cpu_us, double(fired) / events);
  return 0;
}
