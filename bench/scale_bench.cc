// The scale benchmark: N generated customers (default 1,000,000; bench/scale_fixture.h) loaded
// into a child portraitd on 127.0.0.1 over a fresh data directory through the real import path
// (POST /v1/import/profiles, then POST /v1/events and consent records), then:
//   - import rate (profiles/s), events load rate, consents rate;
//   - data directory size; restart to ready (stop, start, until /healthz answers);
//   - resident memory (VmRSS) idle and the most seen under load;
//   - the due-timer query the scheduler runs for the next day's anniversary timers (an index
//     range, no profile decrypted), and firing them: the daemon restarted with its clock moved
//     ahead (PORTRAIT_TEST_NOW) until its timers_fired counter has them all;
//   - re-arming every timer after a rule change (a reload that moves the birthday greeting);
//   - the portrait: ten segments and an RFM score and a BG/NBD model added, refreshed and
//     fitted over HTTP, and the re-evaluations they cause (bench/scale_portrait.h);
//   - audited profile reads on 8 connections (p50/p99), find by email, export, erasures/s.
// Prints one table, each figure beside its target (docs/PERFORMANCE.md). Asserts nothing.

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "bench/scale_daemon.h"
#include "bench/scale_fixture.h"
#include "bench/scale_portrait.h"
#include "config/loader.h"
#include "store/data_dir.h"
#include "store/token_registry.h"

namespace portrait::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

struct Options {
  int64_t customers = 1'000'000;
  int connections = 2;
  int batch = 2000;
  int events_per_request = 498;
  int consent_every = 50;
  int erasures = 1000;
  double read_seconds = 5;
  int io_threads = 2;
  std::string dir;
  std::string portraitd;
  bool keep = false;
};

struct Row {
  std::string figure, measured, target;
};

std::string Format(const char* format, double value) {
  char out[64];
  std::snprintf(out, sizeof out, format, value);
  return out;
}

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

void Die(const std::string& what, const cli::HttpResult& r) {
  std::cerr << what << ": answer " << r.status << ": " << r.body.substr(0, 400) << "\n";
  std::exit(1);
}

// The largest VmRSS seen while it lives, sampled every 100 ms.
class RssWatch {
 public:
  explicit RssWatch(const ChildDaemon& daemon)
      : thread_([this, &daemon] {
          while (!done_) {
            max_kib_ = std::max(max_kib_.load(), daemon.RssKiB());
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~RssWatch() {
    done_ = true;
    thread_.join();
  }
  long max_kib() const { return max_kib_; }

 private:
  std::atomic<bool> done_{false};
  std::atomic<long> max_kib_{0};
  std::thread thread_;
};

struct Load {
  double import_s = 0, events_s = 0, consents_s = 0;
  double import_cpu_s = 0, events_cpu_s = 0;  // the daemon's CPU time
  int64_t consents = 0;
};

Load LoadFixture(const Options& o, const ChildDaemon& daemon, const std::string& token) {
  Load load;
  const int port = daemon.port();
  const auto headers = Headers(token);
  const double cpu0 = daemon.CpuSeconds();
  load.import_s = ParallelFor(
      port, o.connections, o.customers, o.batch,
      [&](cli::HttpClient& client, int64_t b, int64_t e) {
        json rows = json::array();
        for (int64_t i = b; i < e; ++i) {
          rows.push_back(ImportRow(i));
        }
        auto r = client.Send("POST", "/v1/import/profiles", json{{"rows", rows}}.dump(), headers);
        if (r.status != 200 || r.json().value("failed", 1) != 0) {
          Die("import", r);
        }
      });
  const double cpu1 = daemon.CpuSeconds();
  load.import_cpu_s = cpu1 - cpu0;
  std::printf("imported %lld profiles in %.1f s\n", static_cast<long long>(o.customers),
              load.import_s);
  const int64_t now_s = SystemClock().NowUs() / 1'000'000;
  load.events_s = ParallelFor(port, o.connections, o.customers, o.events_per_request / 3,
                              [&](cli::HttpClient& client, int64_t b, int64_t e) {
                                json events = json::array();
                                for (int64_t i = b; i < e; ++i) {
                                  AppendEvents(i, now_s, events);
                                }
                                auto r = client.Send("POST", "/v1/events", events.dump(), headers);
                                if (r.status != 202) {
                                  Die("events", r);
                                }
                              });
  load.events_cpu_s = daemon.CpuSeconds() - cpu1;
  std::printf("loaded %lld events in %.1f s\n", static_cast<long long>(3 * o.customers),
              load.events_s);
  load.consents = o.consent_every > 0 ? (o.customers + o.consent_every - 1) / o.consent_every : 0;
  const std::string consent = ConsentBody().dump();
  load.consents_s =
      ParallelFor(port, 8, load.consents, 1, [&](cli::HttpClient& client, int64_t b, int64_t) {
        auto r =
            client.Send("POST", "/v1/profiles/" + CustomerId(b * o.consent_every) + "/consents",
                        consent, headers);
        if (r.status != 201) {
          Die("consent", r);
        }
      });
  return load;
}

struct Latency {
  double rate = 0, p50 = 0, p99 = 0;
};

// `count` calls of target(n) on `connections` connections (or for `seconds` when count is 0).
Latency Calls(int port, const std::string& token, int connections, int64_t count, double seconds,
              const std::function<std::string(int64_t)>& target, int expect,
              const char* method = "GET") {
  std::mutex mu;
  std::vector<double> all;
  std::atomic<int64_t> next{0};
  const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
  const auto headers = Headers(token);
  const double took = ParallelFor(
      port, connections, connections, 1, [&](cli::HttpClient& client, int64_t, int64_t) {
        std::vector<double> mine;
        for (int64_t n = next++; count > 0 ? n < count : Steady::now() < deadline; n = next++) {
          const auto t0 = Steady::now();
          auto r = client.Send(method, target(n), "", headers);
          if (r.status != expect) {
            Die(target(n).substr(0, 20), r);
          }
          mine.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
        }
        std::lock_guard lock(mu);
        all.insert(all.end(), mine.begin(), mine.end());
      });
  Latency l;
  l.rate = static_cast<double>(all.size()) / took;
  l.p50 = Quantile(all, 0.5);
  l.p99 = Quantile(all, 0.99);
  return l;
}

// A spread of customer numbers over [0, n): call k's customer.
int64_t Spread(int64_t k, int64_t n) { return static_cast<int64_t>((k * 7919 + 13) % n); }

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out;
}

// Moves the birthday greeting from 09:00 to 10:00 and reloads; returns the daemon's own figure
// for re-arming every timer (ms, from its log) and the wall time from the reload to that line.
std::pair<double, double> Rebuild(const fs::path& dir, int port, const std::string& token,
                                  const std::string& log) {
  const fs::path care = dir / "rules/care.toml";
  std::ifstream in(care);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("on.at = \"09:00\"");
  if (at == std::string::npos) {
    return {-1, -1};
  }
  text.replace(at, 15, "on.at = \"10:00\"");
  std::ofstream(care) << text;
  const std::string needle = "timers re-armed";
  const int before = GrepLog(log, needle).first;
  const auto start = Steady::now();
  cli::HttpClient client(port);
  auto r = client.Send("POST", "/v1/admin/reload", "", Headers(token));
  if (r.status != 200) {
    Die("reload", r);
  }
  const std::string line = AwaitLogLine(log, needle, before, 900);
  if (!line.empty()) {
    const size_t open = line.rfind('(');
    return {std::atof(line.c_str() + open + 1), 1000 * Seconds(start)};
  }
  return {-1, -1};
}

struct Sweep {
  int64_t due = 0;
  double window_h = 0, query_cold_ms = 0, query_warm_ms = 0, fire_ms = -1, ready_ms = 0;
};

std::string Rfc3339Us(int64_t us) {
  const std::time_t t = us / 1'000'000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// The due-timer query over the next `window` (offline, on the stopped daemon's store), then the
// daemon started with its clock at the window's end, until it has handled them all.
Sweep MeasureSweep(const config::Config& config, ChildDaemon& daemon, const std::string& token,
                   int64_t import_start_us) {
  Sweep s;
  const int64_t now = SystemClock().NowUs();
  // The daily lifecycle timers come due a day after the import armed them: stay before them.
  const int64_t until =
      std::min(now + 23 * 3'600'000'000LL, import_start_us + 24 * 3'600'000'000LL - 300'000'000LL);
  s.window_h = static_cast<double>(until - now) / 3.6e9;
  {
    auto data = store::OpenDataDir(config).value();
    for (double* ms : {&s.query_cold_ms, &s.query_warm_ms}) {
      const auto t0 = Steady::now();
      s.due = static_cast<int64_t>(data.store->DueTimers(until, 10'000'000).value().size());
      *ms = 1000 * Seconds(t0);
    }
  }
  const auto t0 = Steady::now();
  s.ready_ms = daemon.Start(Rfc3339Us(until + 1'000'000));
  cli::HttpClient client(daemon.port());
  while (Seconds(t0) < 600) {
    if (Metric(client, token, "portrait_timers_fired_total") >= static_cast<double>(s.due)) {
      s.fire_ms = 1000 * Seconds(t0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  daemon.Stop();
  return s;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

void Print(const std::vector<Row>& rows) {
  std::printf("\n%-58s %22s   %s\n", "figure", "measured", "target");
  for (const Row& r : rows) {
    std::printf("%-58s %22s   %s\n", r.figure.c_str(), r.measured.c_str(), r.target.c_str());
  }
}

// Builds the data directory and its admin token; returns the token.
std::string Prepare(const fs::path& dir, config::Config& config) {
  fs::create_directories(dir);
  fs::copy_file(fs::path(PORTRAIT_SOURCE_DIR) / "examples/portrait.toml", dir / "portrait.toml");
  fs::copy(fs::path(PORTRAIT_SOURCE_DIR) / "examples/rules", dir / "rules");
  WriteModelRules(dir);
  config = config::LoadConfig((dir / "portrait.toml").string()).value();
  auto data = store::InitDataDir(config).value();
  SystemClock clock;
  return store::CreateToken(data, "bench", "admin", "bench", clock).value();
}

void Queries(const Options& o, int port, const std::string& token, std::vector<Row>& rows) {
  const int64_t n = o.customers;
  Latency reads = Calls(
      port, token, 8, 0, o.read_seconds,
      [&](int64_t k) { return "/v1/profiles/" + CustomerId(Spread(k, n)); }, 200);
  rows.push_back(
      {"profile read, 8 connections, audited: p50", Format("%.2f ms", reads.p50), "<= 0.5 ms"});
  rows.push_back({"  p99 / reads per second",
                  Format("%.2f ms", reads.p99) + " / " + Format("%.0f", reads.rate), ""});
  Latency find = Calls(
      port, token, 1, 1000, 0,
      [&](int64_t k) { return "/v1/profiles?email=" + PercentEncode(CustomerEmail(Spread(k, n))); },
      200);
  rows.push_back({"find by email (blind index), 1 connection: p50 / p99",
                  Format("%.2f ms", find.p50) + " / " + Format("%.2f ms", find.p99), ""});
  Latency exports = Calls(
      port, token, 1, 200, 0,
      [&](int64_t k) { return "/v1/profiles/" + CustomerId(Spread(k, n)) + "/export"; }, 200);
  rows.push_back({"export of one profile, 1 connection: p50 / p99",
                  Format("%.2f ms", exports.p50) + " / " + Format("%.2f ms", exports.p99), ""});
}

void PortraitRows(const PortraitFigures& f, std::vector<Row>& rows) {
  rows.push_back({"simulated purchases (BG/NBD, CDNOW parameters), then the portrait",
                  Format("%.0f", static_cast<double>(f.purchases)), ""});
  rows.push_back({"re-evaluation, 10 segments and 2 tags added (daemon's figure)",
                  Format("%.0f ms", f.pass_ms), "<= 5 s"});
  rows.push_back({"  reload to re-evaluated (wall) / daemon CPU",
                  Format("%.0f ms", f.pass_wall_ms) + " / " + Format("%.1f s", f.pass_cpu_s), ""});
  rows.push_back(
      {"  members-index rows written", Format("%.0f", static_cast<double>(f.index_rows)), ""});
  rows.push_back({"RFM refresh over HTTP (wall)", Format("%.0f ms", f.refresh_ms), "<= 5 s"});
  rows.push_back({"  then the re-evaluation it causes", Format("%.0f ms", f.refresh_pass_ms), ""});
  rows.push_back({"BG/NBD + Gamma-Gamma fit over HTTP (wall), read from the " + f.fit_read_from,
                  Format("%.0f ms", f.fit_ms), "<= 10 s"});
  rows.push_back({"  customers fitted / the re-evaluation it causes",
                  Format("%.0f", static_cast<double>(f.fit_customers)) + " / " +
                      Format("%.0f ms", f.fit_pass_ms),
                  ""});
}

// The fixture loaded, then memory, reads, the rule change and erasures on the running daemon.
void LoadAndQuery(const Options& o, const fs::path& dir, ChildDaemon& daemon,
                  const std::string& token, std::vector<Row>& rows) {
  const double n = static_cast<double>(o.customers);
  Load load;
  long load_rss = 0;
  {
    RssWatch watch(daemon);
    load = LoadFixture(o, daemon, token);
    load_rss = watch.max_kib();
  }
  rows.push_back({"import of new profiles (6 fields, 2 blind indexes)",
                  Format("%.0f profiles/s", n / load.import_s), ">= 20,000 profiles/s"});
  rows.push_back({"  per second of the daemon's CPU (load-independent)",
                  Format("%.0f profiles", n / load.import_cpu_s), ""});
  rows.push_back({"events load (3 per customer, 498 per request)",
                  Format("%.0f events/s", 3 * n / load.events_s), ""});
  rows.push_back({"  per second of the daemon's CPU (load-independent)",
                  Format("%.0f events", 3 * n / load.events_cpu_s), ""});
  rows.push_back({"consent records (one request each, 8 connections)",
                  Format("%.0f records/s", static_cast<double>(load.consents) / load.consents_s),
                  ""});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  rows.push_back({"resident memory under load (most seen)", Format("%.0f MiB", load_rss / 1024.0),
                  "<= 150 MiB"});
  rows.push_back({"resident memory idle, after the load",
                  Format("%.0f MiB", daemon.RssKiB() / 1024.0), "<= 150 MiB"});
  Queries(o, daemon.port(), token, rows);
  auto [rearm_ms, rearm_wall_ms] = Rebuild(dir, daemon.port(), token, daemon.log_path());
  rows.push_back({"re-arm every timer after a rule change (daemon's figure)",
                  Format("%.0f ms", rearm_ms), "<= 3 s"});
  rows.push_back({"  reload request to re-armed (wall)", Format("%.0f ms", rearm_wall_ms), ""});
  PortraitRows(MeasurePortrait(dir, daemon, token, o.customers), rows);
  Latency erase = Calls(
      daemon.port(), token, 8, o.erasures, 0,
      [&](int64_t k) { return "/v1/profiles/" + CustomerId(o.customers - 1 - k); }, 200, "DELETE");
  rows.push_back({"erasures, 8 connections", Format("%.0f erasures/s", erase.rate), ""});
  rows.push_back(
      {"data directory size",
       Format("%.0f MiB", static_cast<double>(DirBytes((dir / "var").string())) / 1048576.0), ""});
}

// Restart to ready and idle memory after it, then the anniversary sweep.
void RestartAndSweep(const config::Config& config, ChildDaemon& daemon, const std::string& token,
                     int64_t import_start_us, std::vector<Row>& rows) {
  const double stop_ms = daemon.Stop();
  const double ready_ms = daemon.Start();
  rows.push_back({"restart: stop (graceful)", Format("%.0f ms", stop_ms), ""});
  rows.push_back({"restart: start until /healthz answers", Format("%.0f ms", ready_ms), "<= 1 s"});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  rows.push_back({"resident memory idle, after a restart",
                  Format("%.0f MiB", daemon.RssKiB() / 1024.0), "<= 150 MiB"});
  daemon.Stop();
  const Sweep sweep = MeasureSweep(config, daemon, token, import_start_us);
  rows.push_back({"anniversary timers due in the next " + Format("%.1f h", sweep.window_h),
                  Format("%.0f timers", static_cast<double>(sweep.due)), "~2,700 a day at 1M"});
  rows.push_back(
      {"  due-timer query (index range, nothing decrypted) cold / warm",
       Format("%.2f ms", sweep.query_cold_ms) + " / " + Format("%.2f ms", sweep.query_warm_ms),
       "<= 10 ms"});
  rows.push_back({"  fire them all: start with the clock ahead, until handled",
                  Format("%.0f ms", sweep.fire_ms), ""});
  rows.push_back({"    of which start-up to /healthz", Format("%.0f ms", sweep.ready_ms), ""});
}

void AddOptions(CLI::App& app, Options& o) {
  app.add_option("--customers", o.customers, "customers to generate and load")
      ->check(CLI::Range(int64_t{100}, int64_t{99'999'999}))  // phones are unique below 10^8
      ->capture_default_str();
  app.add_option("--connections", o.connections, "import and event connections")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "rows per import request")
      ->check(CLI::Range(1, 5000))
      ->capture_default_str();
  app.add_option("--consent-every", o.consent_every, "one customer in N gets a consent record")
      ->capture_default_str();
  app.add_option("--erasures", o.erasures, "profiles erased at the end")->capture_default_str();
  app.add_option("--read-seconds", o.read_seconds, "duration of the read test")
      ->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "daemon HTTP threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--dir", o.dir, "working directory (default: a fresh one under TMPDIR)");
  app.add_option("--portraitd", o.portraitd, "daemon binary (default: beside this one)");
  app.add_flag("--keep", o.keep, "keep the working directory");
}

int Main(int argc, char** argv) {
  CLI::App app{"scale_bench - N generated customers through a child portraitd"};
  Options o;
  AddOptions(app, o);
  CLI11_PARSE(app, argc, argv);
  o.erasures = static_cast<int>(std::min<int64_t>(o.erasures, o.customers / 2));
  const fs::path dir =
      o.dir.empty() ? fs::temp_directory_path() / ("portrait-scale-" + std::to_string(::getpid()))
                    : fs::path(o.dir);
  if (o.portraitd.empty()) {
    o.portraitd = (fs::canonical("/proc/self/exe").parent_path() / "portraitd").string();
  }
  const std::string load_before = LoadAverage();
  config::Config config;
  const std::string token = Prepare(dir, config);
  ChildDaemon daemon(o.portraitd, (dir / "portrait.toml").string(),
                     (dir / "portraitd.log").string(), o.io_threads);
  if (daemon.Start() < 0) {
    std::cerr << "portraitd did not start; see " << daemon.log_path() << "\n";
    return 1;
  }
  std::vector<Row> rows;
  const int64_t import_start_us = SystemClock().NowUs();
  LoadAndQuery(o, dir, daemon, token, rows);
  RestartAndSweep(config, daemon, token, import_start_us, rows);
  std::printf("\n%lld customers; load average before %s, after %s; %u cores\n",
              static_cast<long long>(o.customers), load_before.c_str(), LoadAverage().c_str(),
              std::thread::hardware_concurrency());
  Print(rows);
  if (!o.keep) {
    fs::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace portrait::bench

int main(int argc, char** argv) { return portrait::bench::Main(argc, argv); }
