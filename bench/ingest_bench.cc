// Durable ingestion over HTTP, against an in-process portraitd on 127.0.0.1 with a fresh data
// directory and the example config and rules, 2,000 customers:
//   - events/s with 1, 8 and 64 connections, one event per request and 50 per request;
//   - per-request latency p50/p99;
//   - event to task: with a trigger added that fires on every order, one event per request on
//     one connection (a 202 means the event and its task are committed);
//   - profile reads (GET /v1/profiles/{id}, each answered once its audit record is durable) on
//     1 and 8 connections: reads/s, p50/p99;
//   - for each scenario, the writer's own counters (from /metrics): group commits, events per
//     group, and the mean time to apply and commit a group (where a request's time goes);
//   - the raw SQLCipher ceiling: the same number of event rows of the same size, inserted in
//     10,000-row transactions into a database with the same key, page size and journal mode.
// Prints a table; it is a benchmark, not a test: nothing is asserted.
#include <pthread.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "cli/http_client.h"
#include "config/loader.h"
#include "crypto/field_cipher.h"
#include "daemon/server.h"
#include "store/data_dir.h"
#include "store/sqlcipher/sqlite.h"
#include "store/token_registry.h"

namespace portrait {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock_ = std::chrono::steady_clock;

constexpr int kCustomers = 2000;

struct Figures {
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  int64_t events = 0;
};

json Event(int64_t n) {
  return {{"id", "bench-" + std::to_string(n)},
          {"type", "order.placed"},
          {"subject", "cust-" + std::to_string(n % kCustomers)},
          {"data", {{"amount", n % 300}, {"category", n % 2 ? "music" : "books"}}}};
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Posts for `seconds` from `connections` clients, `per_request` events each; ids from `next`.
Figures Run(int port, const std::string& token, int connections, int per_request, double seconds,
            std::atomic<int64_t>& next) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<int64_t> sent{0};
  const auto deadline = Clock_::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock_::now();
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      ::pthread_setname_np(::pthread_self(), "bench-client");  // its share in a profile
      cli::HttpClient client(port);
      std::vector<double> mine;
      const std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token},
                                                          {"X-Purpose", "service"}};
      while (Clock_::now() < deadline) {
        int64_t first = next.fetch_add(per_request);
        std::string body;
        if (per_request == 1) {
          body = Event(first).dump();
        } else {
          json batch = json::array();
          for (int i = 0; i < per_request; ++i) {
            batch.push_back(Event(first + i));
          }
          body = batch.dump();
        }
        auto t0 = Clock_::now();
        cli::HttpResult r = client.Send("POST", "/v1/events", body, headers);
        if (r.status != 202) {
          std::cerr << "unexpected answer " << r.status << ": " << r.body << "\n";
          std::exit(1);
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock_::now() - t0).count());
        sent += per_request;
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double took = std::chrono::duration<double>(Clock_::now() - start).count();
  Figures f;
  f.events = sent.load();
  f.events_per_s = static_cast<double>(f.events) / took;
  f.p50_ms = Percentile(latencies, 0.50);
  f.p99_ms = Percentile(latencies, 0.99);
  return f;
}

// The writer's counters from /metrics: commits, events committed, seconds applying and committing.
struct WriterCounters {
  double commits = 0, events = 0, seconds = 0;
};

WriterCounters ReadWriterCounters(int port, const std::string& token) {
  cli::HttpClient client(port);
  cli::HttpResult r = client.Send("GET", "/metrics", "", {{"Authorization", "Bearer " + token}});
  WriterCounters c;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      continue;
    }
    const std::string name = line.substr(0, space);
    const double value = std::atof(line.c_str() + space + 1);
    if (name == "portrait_commits_total") {
      c.commits = value;
    } else if (name == "portrait_commit_batch_events_sum") {
      c.events = value;
    } else if (name == "portrait_commit_seconds_sum") {
      c.seconds = value;
    }
  }
  return c;
}

void PrintWriter(const WriterCounters& before, const WriterCounters& after) {
  const double commits = std::max(1.0, after.commits - before.commits);
  std::printf(
      "    writer: %.0f group commits, %.1f events/group, %.2f ms to apply+commit a group\n",
      after.commits - before.commits, (after.events - before.events) / commits,
      1000 * (after.seconds - before.seconds) / commits);
}

// Reads profiles for `seconds` from `connections` clients; every answer must be 200.
Figures Reads(int port, const std::string& token, int connections, double seconds) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<double> latencies;
  const auto deadline = Clock_::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock_::now();
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      ::pthread_setname_np(::pthread_self(), "bench-client");
      cli::HttpClient client(port);
      std::vector<double> mine;
      const std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token},
                                                          {"X-Purpose", "service"}};
      for (int64_t n = c; Clock_::now() < deadline; n += connections) {
        auto t0 = Clock_::now();
        cli::HttpResult r =
            client.Send("GET", "/v1/profiles/cust-" + std::to_string(n % kCustomers), "", headers);
        if (r.status != 200) {
          std::cerr << "unexpected answer " << r.status << ": " << r.body << "\n";
          std::exit(1);
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock_::now() - t0).count());
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double took = std::chrono::duration<double>(Clock_::now() - start).count();
  Figures f;
  f.events = static_cast<int64_t>(latencies.size());
  f.events_per_s = static_cast<double>(f.events) / took;
  f.p50_ms = Percentile(latencies, 0.50);
  f.p99_ms = Percentile(latencies, 0.99);
  return f;
}

// The raw ceiling: `rows` event-like rows (sealed payload of the same size) in 10,000-row
// transactions, same key, page size, WAL and synchronous=FULL as the store.
double RawCeiling(const std::string& dir, const crypto::SecretBytes& key, int64_t rows) {
  auto db = store::sqlite::Db::Open(dir + "/raw.db", key, /*create=*/true, 64).value();
  (void)db.Exec(
      "CREATE TABLE events (key BLOB PRIMARY KEY, profile_id INTEGER NOT NULL, type TEXT NOT "
      "NULL, time_us INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;");
  auto data_key = crypto::SecretBytes::Random(32).value();
  std::string sealed =
      crypto::FieldCipher::Seal(data_key, 1, "ad", Event(1)["data"].dump()).value();
  const auto start = Clock_::now();
  for (int64_t done = 0; done < rows;) {
    (void)db.Exec("BEGIN;");
    store::sqlite::Stmt ins(db, "INSERT INTO events VALUES (?, ?, ?, ?, ?);");
    for (int i = 0; i < 10'000 && done < rows; ++i, ++done) {
      ins.Reset();
      std::string k = "key-" + std::to_string(done) + std::string(10, 'k');
      ins.BindBlob(1, k).Bind(2, done % kCustomers).Bind(3, "order.placed").Bind(4, done);
      ins.BindBlob(5, sealed);
      (void)ins.Run();
    }
    (void)db.Exec("COMMIT;");
  }
  return static_cast<double>(rows) / std::chrono::duration<double>(Clock_::now() - start).count();
}

// Whether scenario `name` runs: every one when `only` is empty, else those it lists
// (comma-separated: 1x1, 1x8, 1x64, 50x1, 50x8, 50x64, reads, task).
bool Selected(const std::string& only, const std::string& name) {
  return only.empty() || ("," + only + ",").find("," + name + ",") != std::string::npos;
}

// The ingest table: 1 and 50 events per request on 1, 8 and 64 connections, each with the
// writer's counters. Adds the events sent to `total`; returns the best batched rate.
double IngestScenarios(int port, const std::string& token, double seconds, const std::string& only,
                       std::atomic<int64_t>& next, int64_t& total) {
  std::cout << "\nscenario                         events/s   p50 ms   p99 ms    events\n";
  double batched64 = 0;
  for (int per_request : {1, 50}) {
    for (int connections : {1, 8, 64}) {
      if (!Selected(only, std::to_string(per_request) + "x" + std::to_string(connections))) {
        continue;
      }
      const WriterCounters before = ReadWriterCounters(port, token);
      Figures f = Run(port, token, connections, per_request, seconds, next);
      total += f.events;
      if (per_request == 50) {
        batched64 = std::max(batched64, f.events_per_s);
      }
      std::printf("%2d event%s/request, %2d connection%s %10.0f %8.2f %8.2f %9lld\n", per_request,
                  per_request == 1 ? " " : "s", connections, connections == 1 ? " " : "s",
                  f.events_per_s, f.p50_ms, f.p99_ms, static_cast<long long>(f.events));
      PrintWriter(before, ReadWriterCounters(port, token));
    }
  }
  return batched64;
}

// The read table: audited profile reads on 1 and 8 connections.
void ReadScenarios(int port, const std::string& token, double seconds) {
  std::printf("\nprofile reads (audited)          reads/s   p50 ms   p99 ms     reads\n");
  for (int connections : {1, 8}) {
    Figures f = Reads(port, token, connections, seconds);
    std::printf("read, %d connection%s %21.0f %8.2f %8.2f %9lld\n", connections,
                connections == 1 ? " " : "s", f.events_per_s, f.p50_ms, f.p99_ms,
                static_cast<long long>(f.events));
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"ingest_bench - durable HTTP ingestion against an in-process portraitd"};
  double seconds = 5;
  int io_threads = 2;
  app.add_option("--seconds", seconds, "duration of each scenario")->capture_default_str();
  app.add_option("--io-threads", io_threads, "daemon HTTP threads")->capture_default_str();
  std::string only;
  app.add_option("--only", only,
                 "run only these scenarios (for profiling), comma-separated: 1x1, 1x8, 1x64, "
                 "50x1, 50x8, 50x64, reads, task");
  CLI11_PARSE(app, argc, argv);

  const fs::path dir = fs::temp_directory_path() / ("portrait-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(PORTRAIT_SOURCE_DIR) / "examples/portrait.toml", dir / "portrait.toml");
  fs::copy(fs::path(PORTRAIT_SOURCE_DIR) / "examples/rules", dir / "rules");
  auto config = config::LoadConfig((dir / "portrait.toml").string()).value();
  std::string token;
  {
    auto data = store::InitDataDir(config).value();
    SystemClock clock;
    token = store::CreateToken(data, "bench", "admin", "bench", clock).value();
  }
  SystemClock clock;
  auto log = spdlog::create<spdlog::sinks::null_sink_mt>("bench");
  auto server = daemon::Server::Open(config, clock, *log).value();
  std::string bound = server->Listen("127.0.0.1:0").value();
  const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  std::thread serving([&] { server->Run(io_threads); });

  std::atomic<int64_t> next{0};
  std::cout << "creating " << kCustomers << " profiles (first event of each)...\n";
  const auto creating = Clock_::now();
  while (next.load() < kCustomers) {
    Run(port, token, 4, 50, 0.2, next);
  }
  std::printf("new profiles through their first events, 50/request, 4 connections: %.0f/s\n",
              static_cast<double>(next.load()) /
                  std::chrono::duration<double>(Clock_::now() - creating).count());
  next = 1'000'000;

  int64_t total = 0;
  const double batched64 = IngestScenarios(port, token, seconds, only, next, total);
  if (Selected(only, "reads")) {
    ReadScenarios(port, token, seconds);
  }

  // Event to task: a trigger that fires on every order, then one event per request.
  std::ofstream(dir / "rules/bench.toml") << R"toml(
[[trigger]]
id = "every-order"
purpose = "care"
on.event = "order.placed"
task = "note"
channel = "sms"
sink = "care-queue"
message = "order noted"
)toml";
  if (Status s = server->Reload(); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  Figures to_task;
  if (Selected(only, "task")) {
    to_task = Run(port, token, 1, 1, seconds, next);
  }
  server->Shutdown();
  serving.join();
  (void)server->Close();
  server.reset();

  auto keys = store::OpenDataDir(config).value();
  const double raw =
      RawCeiling(dir.string(), keys.keys.portrait_db_key(), std::max<int64_t>(total, 100'000));
  std::printf(
      "\nraw SQLCipher ceiling (same key, 4 KiB pages, WAL, 10,000-row transactions): %.0f "
      "rows/s\n",
      raw);
  std::printf("best batched ingest / raw ceiling: %.1f%%\n", 100.0 * batched64 / raw);
  std::printf(
      "event to task in the outbox (a trigger firing on every order), one connection: p50 %.2f "
      "ms, p99 %.2f ms, %.0f events+tasks/s\n",
      to_task.p50_ms, to_task.p99_ms, to_task.events_per_s);
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace portrait

int main(int argc, char** argv) { return portrait::Main(argc, argv); }
