// Delivery to a local webhook receiver, against an in-process portraitd on 127.0.0.1 with a fresh
// data directory, the example config and rules, and a trigger that fires on every
// "ticket.opened" event (care purpose: no cap, no quiet hours):
//   - outbox drain: N tasks already waiting when the daemon starts (ingested while the sink's
//     secret was unset, so it could not open), timed from the start to the N-th webhook
//     received — each task checked, signed, sent and recorded `delivered`;
//   - ingest and delivery together: N more events posted 50 per request, timed from the first
//     post to the N-th webhook received (the one writer thread shared by both);
//   - event to delivery: one event per request on one connection, paced, from the POST being
//     sent to its webhook arriving; p50 and p99.
// Prints the figures; it is a benchmark, not a test: nothing is asserted.
#include <sodium.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "base/clock.h"
#include "cli/http_client.h"
#include "config/loader.h"
#include "daemon/server.h"
#include "store/data_dir.h"
#include "store/token_registry.h"
#include "tests/support/webhook_receiver.h"

namespace portrait {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

json Ticket(const std::string& subject, int64_t n) {
  return {{"id", "ticket-" + std::to_string(n)}, {"type", "ticket.opened"}, {"subject", subject}};
}

int Main(int argc, char** argv) {
  CLI::App app{"dispatch_bench - task delivery to a local webhook receiver"};
  int tasks = 5000;
  int paced = 300;
  int concurrency = 8;
  app.add_option("--tasks", tasks, "tasks for the throughput run")->capture_default_str();
  app.add_option("--paced", paced, "events for the latency run")->capture_default_str();
  app.add_option("--concurrency", concurrency, "the sink's workers")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0) {
    return 1;
  }
  testing::WebhookReceiver receiver;
  uint8_t secret[32];
  randombytes_buf(secret, sizeof secret);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, secret, 32, sodium_base64_VARIANT_ORIGINAL);
  const std::string secret_text = "whsec_" + std::string(b64);

  const fs::path dir =
      fs::temp_directory_path() / ("portrait-dispatch-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy(fs::path(PORTRAIT_SOURCE_DIR) / "examples/rules", dir / "rules");
  std::ifstream in(fs::path(PORTRAIT_SOURCE_DIR) / "examples/portrait.toml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string url = "url = \"http://127.0.0.1:8080/hooks/portrait\"";
  text.replace(
      text.find(url), url.size(),
      "url = \"" + receiver.url("/crm") + "\"\nconcurrency = " + std::to_string(concurrency));
  std::ofstream(dir / "portrait.toml") << text;
  std::ofstream(dir / "rules/bench.toml") << R"toml(
[[trigger]]
id = "ticket-ack"
purpose = "care"
on.event = "ticket.opened"
task = "ack"
channel = "email"
sink = "crm"
message = "We have your ticket."
)toml";
  auto config = config::LoadConfig((dir / "portrait.toml").string()).value();
  std::string token;
  {
    auto data = store::InitDataDir(config).value();
    SystemClock clock;
    token = store::CreateToken(data, "bench", "admin", "bench", clock).value();
  }
  SystemClock clock;
  auto log = spdlog::create<spdlog::sinks::null_sink_mt>("bench");
  std::unique_ptr<daemon::Server> server;
  std::thread serving;
  int port = 0;
  auto start = [&] {
    server = daemon::Server::Open(config, clock, *log).value();
    const std::string bound = server->Listen("127.0.0.1:0").value();
    port = std::stoi(bound.substr(bound.rfind(':') + 1));
    serving = std::thread([&] { server->Run(2); });
  };
  auto stop = [&] {
    server->Shutdown();
    serving.join();
    (void)server->Close();
    server.reset();
  };
  const std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token},
                                                      {"X-Purpose", "care"}};
  auto post_tickets = [&](cli::HttpClient& client, int from) {
    for (int first = from; first < from + tasks; first += 50) {
      json events = json::array();
      for (int i = first; i < std::min(from + tasks, first + 50); ++i) {
        events.push_back(Ticket("t-" + std::to_string(i), i));
      }
      if (client.Send("POST", "/v1/events", events.dump(), headers).status != 202) {
        return false;
      }
    }
    return true;
  };

  // Outbox drain: the tasks wait while the sink can't open, then the daemon starts with it.
  ::unsetenv("PORTRAIT_CRM_SECRET");
  start();
  {
    cli::HttpClient client(port);
    if (!post_tickets(client, 0)) {
      std::cerr << "ingest failed\n";
      return 1;
    }
  }
  stop();
  ::setenv("PORTRAIT_CRM_SECRET", secret_text.c_str(), 1);
  auto began = Steady::now();
  start();
  bool all = receiver.WaitFor(static_cast<size_t>(tasks), 600);
  double took = std::chrono::duration<double>(Steady::now() - began).count();
  std::printf("outbox drain: %d waiting tasks delivered (sink concurrency %d): %.0f tasks/s%s\n",
              tasks, concurrency, tasks / took, all ? "" : " (not all arrived)");

  // Ingest and delivery together.
  cli::HttpClient client(port);
  began = Steady::now();
  if (!post_tickets(client, tasks)) {
    std::cerr << "ingest failed\n";
    return 1;
  }
  all = receiver.WaitFor(static_cast<size_t>(2 * tasks), 600);
  took = std::chrono::duration<double>(Steady::now() - began).count();
  std::printf("ingest and delivery together: %d events, 50 per request: %.0f tasks/s%s\n", tasks,
              tasks / took, all ? "" : " (not all arrived)");

  // Event to delivery, one event at a time.
  std::map<std::string, Steady::time_point> sent;
  for (int i = 0; i < paced; ++i) {
    const std::string subject = "p-" + std::to_string(i);
    sent[subject] = Steady::now();
    client.Send("POST", "/v1/events", Ticket(subject, 1'000'000 + i).dump(), headers);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  receiver.WaitFor(static_cast<size_t>(2 * tasks + paced), 60);
  std::vector<double> latency_ms;
  for (const testing::ReceivedRequest& r : receiver.Received()) {
    const std::string subject = json::parse(r.body)["subject"];
    if (auto it = sent.find(subject); it != sent.end()) {
      latency_ms.push_back(std::chrono::duration<double, std::milli>(r.at - it->second).count());
    }
  }
  std::printf(
      "event to delivery (one event per request, one connection, %zu events): "
      "p50 %.1f ms, p99 %.1f ms\n",
      latency_ms.size(), Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.99));
  stop();
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace portrait

int main(int argc, char** argv) { return portrait::Main(argc, argv); }
