// The cost of an event on PostgreSQL beside SQLCipher, and across nodes (docs/SCALING.md, "Cost
// per event"). One run starts a PostgreSQL server of its own (as the tests do,
// tests/support/postgres_server.h, but durable unless --fast-postgres: fsync, synchronous_commit
// and full_page_writes on, as in production) and child portraitd processes (the binary beside
// this one), each scenario on fresh data directories and a fresh schema:
//   A. one portraitd on SQLCipher;
//   B. one portraitd on PostgreSQL;
//   C, D. two and three portraitd nodes on one PostgreSQL with [cluster], timed once every
//      partition is held and each node holds its share.
// Each scenario gets the same event stream: order events for N customers, their profiles made
// first by their first events (untimed but reported), then E events 50 per request and S events
// one per request, on several connections. The client routes as a load balancer that follows
// 421 answers would: a batch goes to the node that acknowledged its subjects before (a new
// subject to the next node in turn); a batch answered 421 is split and each event is sent to
// the node the answer names, and on from there.
// Per timed run: events/s (acknowledged 202), p50/p99 request latency, and CPU per event —
// user+system CPU-seconds of each portraitd (/proc/PID/stat), of the PostgreSQL server (the
// postmaster, the children it reaped and its live children: backends, WAL writer, checkpointer),
// of this client, and of the whole machine (/proc/stat) —, the writers' group-commit counters
// from /metrics, and PostgreSQL's transactions per event (pg_stat_database); with --statements N
// also pg_stat_statements' N statements of the most time. Prints a table; it is a benchmark, not
// a test: nothing is asserted.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "bench/scale_daemon.h"
#include "config/loader.h"
#include "store/data_dir.h"
#include "store/postgres/pg.h"
#include "store/token_registry.h"
#include "tests/support/postgres_server.h"

namespace portrait::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
using testing::PostgresServer;

struct Options {
  int customers = 5000;
  int64_t events = 100'000;
  int64_t single_events = 8'000;
  int per_request = 50;
  int connections = 8;
  int io_threads = 2;
  int partitions = 256;
  int lease_seconds = 10;
  bool fast_postgres = false;
  int statements = 0;                    // with pg_stat_statements: the top N of each run
  std::vector<std::string> pg_settings;  // more server settings, NAME=VALUE
  std::string scenarios = "A,B,C,D";
  std::string portraitd;
  bool keep = false;
};

struct Scenario {
  std::string name, title;
  bool postgres = false;
  int nodes = 1;
  bool cluster = false;
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << what << "\n";
  std::exit(1);
}

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// --- CPU ---------------------------------------------------------------------------------------

double TicksPerSecond() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

// From /proc/PID/stat: the parent (field 4), user+system (14-15) and the user+system of the
// children it reaped (16-17), in ticks. `ok` false when the process is gone.
struct ProcTimes {
  long ppid = 0;
  double own = 0, reaped = 0;
  bool ok = false;
};

ProcTimes ReadStat(const fs::path& path) {
  std::ifstream in(path);
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  ProcTimes t;
  if (close == std::string::npos || close + 2 > stat.size()) {
    return t;
  }
  std::istringstream rest(stat.substr(close + 2));  // from field 3, the state
  std::vector<std::string> f(3);                    // f[i] is field i
  for (std::string field; f.size() <= 17 && rest >> field;) {
    f.push_back(field);
  }
  if (f.size() <= 17) {
    return t;
  }
  t.ppid = std::atol(f[4].c_str());
  t.own = std::atof(f[14].c_str()) + std::atof(f[15].c_str());
  t.reaped = std::atof(f[16].c_str()) + std::atof(f[17].c_str());
  t.ok = true;
  return t;
}

// The PostgreSQL server's CPU-seconds so far: the postmaster's own, its children's it has reaped
// (backends of closed connections) and its live children's (backends, WAL writer,
// checkpointer, autovacuum).
double PostgresCpuSeconds(int postmaster) {
  const ProcTimes root = ReadStat("/proc/" + std::to_string(postmaster) + "/stat");
  double ticks = root.own + root.reaped;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) {
      continue;
    }
    const ProcTimes t = ReadStat(entry.path() / "stat");
    if (t.ok && t.ppid == postmaster) {
      ticks += t.own;
    }
  }
  return ticks / TicksPerSecond();
}

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Busy CPU-seconds of the whole machine, every core (/proc/stat: all but idle and iowait).
double MachineCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return (user + nice + system + irq + softirq + steal) / TicksPerSecond();
}

// --- PostgreSQL's own counters ---------------------------------------------------------------

// The server's counters for portrait's two databases, through a superuser connection to a third
// (whose own transactions are not counted). pg_stat_database lags by up to a second (backends
// flush their counts at most once a second, and when idle); pg_stat_statements does not.
class PgCounters {
 public:
  struct Figures {
    double transactions = 0, statements = 0, sessions = 0;
    double vacuums = 0, checkpoints = 0;     // (auto)vacuum and (auto)analyze runs; checkpoints
    std::vector<std::string> top;            // filled by Top
    std::map<std::string, double> seq_read;  // rows read by sequential scans, by schema.table
    std::string scanned;  // the tables of the most such rows, and how many an event
  };

  PgCounters(PostgresServer& server, int statements) : statements_(statements) {
    auto db =
        store::pg::Connection::Open(server.AdminUrl("postgres"), &server.superuser_password());
    if (!db) {
      Die(db.error().ToString());
    }
    db_ = std::make_unique<store::pg::Connection>(std::move(*db));
    for (const char* name : {"portrait", "portrait_keys"}) {  // table counters are per database
      auto table_db =
          store::pg::Connection::Open(server.AdminUrl(name), &server.superuser_password());
      if (!table_db) {
        Die(table_db.error().ToString());
      }
      table_dbs_.push_back(std::make_unique<store::pg::Connection>(std::move(*table_db)));
    }
    if (statements_ > 0) {
      Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;");
    }
  }

  void Reset() {
    if (statements_ > 0) {
      Exec("SELECT pg_stat_statements_reset();");
    }
  }

  Figures Read() {
    Figures f;
    auto r =
        Run("SELECT sum(xact_commit + xact_rollback)::bigint, sum(sessions)::bigint FROM "
            "pg_stat_database WHERE datname IN ('portrait', 'portrait_keys');");
    f.transactions = static_cast<double>(r.Int(0, 0));
    f.sessions = static_cast<double>(r.Int(0, 1));
    f.checkpoints = static_cast<double>(
        Run("SELECT (checkpoints_timed + checkpoints_req)::bigint FROM pg_stat_bgwriter;")
            .Int(0, 0));
    for (const auto& table_db : table_dbs_) {
      auto vacuums = table_db->Run(
          "SELECT coalesce(sum(vacuum_count + autovacuum_count + analyze_count + "
          "autoanalyze_count), 0)::bigint FROM pg_stat_all_tables;");
      if (!vacuums) {
        Die(vacuums.error().ToString());
      }
      f.vacuums += static_cast<double>(vacuums->Int(0, 0));
      auto scans = table_db->Run(
          "SELECT current_database() || '.' || schemaname || '.' || relname, seq_tup_read FROM "
          "pg_stat_user_tables;");
      if (!scans) {
        Die(scans.error().ToString());
      }
      for (int i = 0; i < scans->size(); ++i) {
        f.seq_read[scans->Text(i, 0)] = static_cast<double>(scans->Int(i, 1));
      }
    }
    if (statements_ > 0) {
      f.statements = static_cast<double>(
          Run(std::string("SELECT coalesce(sum(calls), 0)::bigint ") + kOurs + ";").Int(0, 0));
    }
    return f;
  }

  // The `statements` statements of the most time (planning and execution) since Reset: calls
  // per event, µs a call, and the statement's first words.
  std::vector<std::string> Top(double events) {
    std::vector<std::string> top;
    if (statements_ <= 0) {
      return top;
    }
    auto r = Run(std::string("SELECT calls, (1000 * (total_exec_time + total_plan_time))::bigint, "
                             "left(regexp_replace(query, '\\s+', ' ', 'g'), 100) ") +
                 kOurs + " ORDER BY total_exec_time + total_plan_time DESC LIMIT " +
                 std::to_string(statements_) + ";");
    for (int i = 0; i < r.size(); ++i) {
      const double calls = static_cast<double>(r.Int(i, 0));
      char line[256];
      std::snprintf(line, sizeof line, "%6.2f/event %7.1f µs  %s", calls / events,
                    static_cast<double>(r.Int(i, 1)) / std::max(1.0, calls), r.Text(i, 2).c_str());
      top.push_back(line);
    }
    return top;
  }

 private:
  static constexpr const char* kOurs =
      "FROM pg_stat_statements WHERE dbid IN (SELECT oid FROM pg_database WHERE datname IN "
      "('portrait', 'portrait_keys'))";

  void Exec(const std::string& sql) {
    if (Status s = db_->Exec(sql); !s.ok()) {
      Die(s.ToString());
    }
  }
  store::pg::Rows Run(const std::string& sql) {
    auto r = db_->Run(sql);
    if (!r) {
      Die(r.error().ToString());
    }
    return std::move(*r);
  }

  int statements_;
  std::unique_ptr<store::pg::Connection> db_;
  std::vector<std::unique_ptr<store::pg::Connection>> table_dbs_;
};

// --- the deployment ----------------------------------------------------------------------------

struct Deployment {
  std::vector<std::unique_ptr<ChildDaemon>> nodes;
  std::string token;
};

std::string ClusterTable(const Options& o, int node) {
  const std::string name = "node-" + std::to_string(node + 1);
  return "[cluster]\nnode = \"" + name + "\"\naddress = \"http://" + name +
         ".bench:7451\"\npartitions = " + std::to_string(o.partitions) + "\nlease = \"" +
         std::to_string(o.lease_seconds) + "s\"\n";
}

std::string StoreTable(const PostgresServer& server, const PostgresServer::Databases& dbs,
                       const fs::path& dir) {
  for (const auto& [file, secret] :
       {std::pair{"main.pw", &server.password()}, {"keys.pw", &server.keystore_password()}}) {
    std::ofstream(dir / file) << secret->view();
    ::chmod((dir / file).c_str(), 0600);
  }
  return "[store]\nkind = \"postgres\"\nurl = \"" + dbs.url + "\"\nkeystore_url = \"" +
         dbs.keystore_url + "\"\npassword_file = \"" + (dir / "main.pw").string() +
         "\"\nkeystore_password_file = \"" + (dir / "keys.pw").string() + "\"\n";
}

// The example config and rules in `node_dir`, `suffix` appended to the config.
void WriteNodeDir(const fs::path& node_dir, const std::string& suffix) {
  fs::create_directories(node_dir);
  const fs::path source = PORTRAIT_SOURCE_DIR;
  std::ifstream in(source / "examples/portrait.toml");
  std::ofstream(node_dir / "portrait.toml") << in.rdbuf() << "\n" << suffix;
  fs::copy(source / "examples/rules", node_dir / "rules", fs::copy_options::recursive);
}

// Makes the store through the first node's config (as portraitctl init does) and an admin
// token; the other nodes get their own directory with a copy of the master key. Starts them all.
Deployment Deploy(const Options& o, const Scenario& s, const fs::path& dir,
                  const std::string& store_table) {
  Deployment d;
  for (int n = 0; n < s.nodes; ++n) {
    const fs::path node_dir = dir / ("node-" + std::to_string(n + 1));
    WriteNodeDir(node_dir, store_table + (s.cluster ? ClusterTable(o, n) : ""));
    if (n == 0) {
      auto config = config::LoadConfig((node_dir / "portrait.toml").string());
      if (!config) {
        Die(config.error().ToString());
      }
      auto data = store::InitDataDir(*config);
      if (!data) {
        Die("init: " + data.error().ToString());
      }
      SystemClock clock;
      d.token = store::CreateToken(*data, "bench", "admin", "bench", clock).value();
    } else {
      fs::create_directory(node_dir / "var");
      fs::permissions(node_dir / "var", fs::perms::owner_all);
      fs::copy_file(dir / "node-1/var/master.key", node_dir / "var/master.key");
    }
    d.nodes.push_back(
        std::make_unique<ChildDaemon>(o.portraitd, (node_dir / "portrait.toml").string(),
                                      (node_dir / "portraitd.log").string(), o.io_threads));
    if (d.nodes.back()->Start() < 0) {
      Die("portraitd did not start; see " + d.nodes.back()->log_path());
    }
  }
  return d;
}

// Waits until every partition is held, unexpired, and each of the `nodes` holds at most its
// share (so none is taking more); returns the seconds that took and prints the shares.
double AwaitShares(const Options& o, const PostgresServer& server, const std::string& url,
                   int nodes) {
  auto db = store::pg::Connection::Open(url, &server.password());
  if (!db) {
    Die(db.error().ToString());
  }
  const int share = (o.partitions + nodes - 1) / nodes;
  const auto start = Steady::now();
  while (Seconds(start) < 10.0 * o.lease_seconds + 60) {
    auto r = db->Run(
        "SELECT node, count(*) FROM leases WHERE node <> '' AND expires_us > "
        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint GROUP BY node ORDER BY node;");
    if (!r) {
      Die(r.error().ToString());
    }
    int64_t held = 0, most = 0;
    std::string shares;
    for (int i = 0; i < r->size(); ++i) {
      held += r->Int(i, 1);
      most = std::max(most, r->Int(i, 1));
      shares += (i ? ", " : "") + r->Text(i, 0) + " " + std::to_string(r->Int(i, 1));
    }
    if (r->size() == nodes && held == o.partitions && most <= share) {
      const double took = Seconds(start);
      std::printf("  partitions settled in %.1f s: %s\n", took, shares.c_str());
      return took;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("the partitions did not settle among the nodes");
}

// --- the client --------------------------------------------------------------------------------

json Event(const std::string& prefix, int64_t n, int customers) {
  return {{"id", prefix + std::to_string(n)},
          {"type", "order.placed"},
          {"subject", "cust-" + std::to_string(n % customers)},
          {"data", {{"amount", n % 300}, {"category", n % 2 ? "music" : "books"}}}};
}

// What the client knows of the deployment: each node's port, and the node that last
// acknowledged each customer's events (-1 while none has).
class Route {
 public:
  Route(const Deployment& d, int customers) : owner_(static_cast<size_t>(customers)) {
    for (const auto& node : d.nodes) {
      ports_.push_back(node->port());
    }
    for (auto& o : owner_) {
      o = -1;
    }
    headers_ = Headers(d.token);
  }
  int nodes() const { return static_cast<int>(ports_.size()); }
  int port(int node) const { return ports_[static_cast<size_t>(node)]; }
  int customers() const { return static_cast<int>(owner_.size()); }
  int OwnerOf(int64_t n) const { return owner_[static_cast<size_t>(n % customers())].load(); }
  void Learn(int64_t n, int node) { owner_[static_cast<size_t>(n % customers())] = node; }
  const std::map<std::string, std::string>& headers() const { return headers_; }
  // The index of node "node-K" named by a 421; -1 if there is no such node.
  int NodeNamed(const std::string& name) const {
    const int k = name.rfind("node-", 0) == 0 ? std::atoi(name.c_str() + 5) : 0;
    return k >= 1 && k <= nodes() ? k - 1 : -1;
  }

 private:
  std::vector<int> ports_;
  std::vector<std::atomic<int>> owner_;
  std::map<std::string, std::string> headers_;
};

struct Tally {
  std::vector<double> latencies_ms;  // of acknowledged requests
  int64_t acked = 0, misdirected = 0, unavailable = 0;
};

// One client connection to each node, as one load-balancer worker.
class Sender {
 public:
  Sender(Route& route, std::string prefix) : route_(route), prefix_(std::move(prefix)) {
    for (int n = 0; n < route.nodes(); ++n) {
      clients_.push_back(std::make_unique<cli::HttpClient>(route.port(n)));
    }
  }

  // Posts events `numbers` to `node` until each is acknowledged, following 421 answers.
  void Deliver(int node, std::vector<int64_t> numbers) {
    std::vector<std::pair<int, std::vector<int64_t>>> work;
    work.emplace_back(node, std::move(numbers));
    const auto give_up = Steady::now() + std::chrono::minutes(5);
    while (!work.empty()) {
      if (Steady::now() > give_up) {
        Die("events still not acknowledged after 5 minutes");
      }
      auto [to, batch] = std::move(work.back());
      work.pop_back();
      const auto t0 = Steady::now();
      const cli::HttpResult r = clients_[static_cast<size_t>(to)]->Send(
          "POST", "/v1/events", Body(batch), route_.headers());
      const double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
      if (r.status == 202) {
        tally_.latencies_ms.push_back(ms);
        tally_.acked += static_cast<int64_t>(batch.size());
        for (int64_t n : batch) {
          route_.Learn(n, to);
        }
      } else if (r.status == 421) {
        ++tally_.misdirected;
        const json answer = r.json();
        const int named = answer.is_object() && answer.contains("owner")
                              ? route_.NodeNamed(answer["owner"].value("node", ""))
                              : -1;
        if (named < 0) {
          Die("a 421 naming no node of this run: " + r.body.substr(0, 300));
        }
        for (int64_t n : batch) {  // its events may have several owners: one at a time
          work.emplace_back(named, std::vector<int64_t>{n});
        }
      } else if (r.status == 503) {  // a partition between holders
        ++tally_.unavailable;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        work.emplace_back(to, std::move(batch));
      } else {
        Die("unexpected answer " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
      }
    }
  }

  Tally& tally() { return tally_; }

 private:
  std::string Body(const std::vector<int64_t>& batch) const {
    if (batch.size() == 1) {
      return Event(prefix_, batch[0], route_.customers()).dump();
    }
    json events = json::array();
    for (int64_t n : batch) {
      events.push_back(Event(prefix_, n, route_.customers()));
    }
    return events.dump();
  }

  Route& route_;
  std::string prefix_;
  std::vector<std::unique_ptr<cli::HttpClient>> clients_;
  Tally tally_;
};

struct Figures {
  int64_t events = 0, requests = 0, misdirected = 0, unavailable = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

// Events [0, count) of stream `prefix` on `connections` connections, drawn `per_request` at a
// time and sent in requests of `per_request` to the node each subject's events went to before.
Figures Stream(Route& route, const std::string& prefix, int64_t count, int per_request,
               int connections) {
  std::atomic<int64_t> next{0};
  std::mutex mu;
  Tally all;
  const auto start = Steady::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      Sender sender(route, prefix);
      std::vector<std::vector<int64_t>> pending(static_cast<size_t>(route.nodes()));
      int turn = c;
      for (int64_t first = next.fetch_add(per_request); first < count;
           first = next.fetch_add(per_request), ++turn) {
        for (int64_t n = first; n < std::min(count, first + per_request); ++n) {
          const int known = route.OwnerOf(n);
          const int node = known >= 0 ? known : turn % route.nodes();  // new: the next in turn
          auto& queue = pending[static_cast<size_t>(node)];
          queue.push_back(n);
          if (static_cast<int>(queue.size()) >= per_request) {
            sender.Deliver(node, std::move(queue));
            queue.clear();
          }
        }
      }
      for (int node = 0; node < route.nodes(); ++node) {
        if (!pending[static_cast<size_t>(node)].empty()) {
          sender.Deliver(node, std::move(pending[static_cast<size_t>(node)]));
        }
      }
      std::lock_guard lock(mu);
      Tally& mine = sender.tally();
      all.latencies_ms.insert(all.latencies_ms.end(), mine.latencies_ms.begin(),
                              mine.latencies_ms.end());
      all.acked += mine.acked;
      all.misdirected += mine.misdirected;
      all.unavailable += mine.unavailable;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  Figures f;
  f.seconds = Seconds(start);
  f.events = all.acked;
  f.requests = static_cast<int64_t>(all.latencies_ms.size());
  f.misdirected = all.misdirected;
  f.unavailable = all.unavailable;
  f.p50_ms = Quantile(all.latencies_ms, 0.50);
  f.p99_ms = Quantile(all.latencies_ms, 0.99);
  return f;
}

// --- measuring ---------------------------------------------------------------------------------

// CPU-seconds and the writers' counters, summed over the nodes.
struct Meter {
  std::vector<double> node_cpu;
  double postgres_cpu = 0, client_cpu = 0, machine_cpu = 0;
  double commits = 0, committed_events = 0, commit_seconds = 0;
};

Meter Read(const Deployment& d, int postmaster) {
  Meter m;
  for (const auto& node : d.nodes) {
    m.node_cpu.push_back(node->CpuSeconds());
    cli::HttpClient client(node->port());
    m.commits += Metric(client, d.token, "portrait_commits_total");
    m.committed_events += Metric(client, d.token, "portrait_commit_batch_events_sum");
    m.commit_seconds += Metric(client, d.token, "portrait_commit_seconds_sum");
  }
  m.postgres_cpu = PostgresCpuSeconds(postmaster);
  m.client_cpu = SelfCpuSeconds();
  m.machine_cpu = MachineCpuSeconds();
  return m;
}

struct Row {
  std::string scenario, run;
  Figures f;
  Meter cost;              // after - before
  PgCounters::Figures pg;  // after - before
  bool postgres = false;
};

Meter Difference(const Meter& after, const Meter& before) {
  Meter d;
  for (size_t i = 0; i < after.node_cpu.size(); ++i) {
    d.node_cpu.push_back(after.node_cpu[i] - before.node_cpu[i]);
  }
  d.postgres_cpu = after.postgres_cpu - before.postgres_cpu;
  d.client_cpu = after.client_cpu - before.client_cpu;
  d.machine_cpu = after.machine_cpu - before.machine_cpu;
  d.commits = after.commits - before.commits;
  d.committed_events = after.committed_events - before.committed_events;
  d.commit_seconds = after.commit_seconds - before.commit_seconds;
  return d;
}

Row Timed(const Deployment& d, int postmaster, PgCounters& pg, Route& route,
          const std::string& scenario, const std::string& run, const std::string& prefix,
          int64_t count, int per_request, int connections) {
  pg.Reset();
  const PgCounters::Figures pg_before = pg.Read();
  const Meter before = Read(d, postmaster);
  Row row{scenario, run, Stream(route, prefix, count, per_request, connections), {}, {}};
  row.cost = Difference(Read(d, postmaster), before);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // pg_stat_database's lag
  const PgCounters::Figures pg_after = pg.Read();
  row.pg.transactions = pg_after.transactions - pg_before.transactions;
  row.pg.statements = pg_after.statements - pg_before.statements;
  row.pg.sessions = pg_after.sessions - pg_before.sessions;
  row.pg.vacuums = pg_after.vacuums - pg_before.vacuums;
  row.pg.checkpoints = pg_after.checkpoints - pg_before.checkpoints;
  row.pg.top = pg.Top(static_cast<double>(row.f.events));
  std::vector<std::pair<double, std::string>> scanned;
  for (const auto& [table, rows] : pg_after.seq_read) {
    const auto was = pg_before.seq_read.find(table);
    const double read = rows - (was == pg_before.seq_read.end() ? 0 : was->second);
    if (read >= 0.1 * static_cast<double>(row.f.events)) {  // 0.1 an event and more
      scanned.emplace_back(read, table.substr(table.rfind('.') + 1));
    }
  }
  std::sort(scanned.rbegin(), scanned.rend());
  for (size_t i = 0; i < scanned.size() && i < 3; ++i) {
    char one[96];
    std::snprintf(one, sizeof one, "%s%s %.1f", i ? ", " : "", scanned[i].second.c_str(),
                  scanned[i].first / std::max<double>(1, static_cast<double>(row.f.events)));
    row.pg.scanned += one;
  }
  return row;
}

void PrintRow(const Row& r) {
  const double events = std::max<double>(1, static_cast<double>(r.f.events));
  double nodes = 0;
  std::string each;
  for (double s : r.cost.node_cpu) {
    nodes += s;
    char one[32];
    std::snprintf(one, sizeof one, "%s%.1f", each.empty() ? "" : "+", 1e6 * s / events);
    each += one;
  }
  const double commits = std::max(1.0, r.cost.commits);
  std::printf("%-24s %-12s %9.0f %7.2f %8.2f %8.0f %7.0f %7.0f %8.0f %5lld %7.1f %7.2f\n",
              r.scenario.c_str(), r.run.c_str(), r.f.rate(), r.f.p50_ms, r.f.p99_ms,
              1e6 * nodes / events, 1e6 * r.cost.postgres_cpu / events,
              1e6 * r.cost.client_cpu / events, 1e6 * r.cost.machine_cpu / events,
              static_cast<long long>(r.f.misdirected), r.cost.committed_events / commits,
              1000 * r.cost.commit_seconds / commits);
  const double cores = std::thread::hardware_concurrency();
  std::printf(
      "%-24s   %lld events in %.1f s, %lld requests; portraitd µs/event by node %s; machine busy "
      "%.0f%% of %.0f cores%s\n",
      "", static_cast<long long>(r.f.events), r.f.seconds, static_cast<long long>(r.f.requests),
      each.c_str(), 100 * r.cost.machine_cpu / (r.f.seconds * cores), cores,
      r.f.unavailable ? (", " + std::to_string(r.f.unavailable) + " answers 503").c_str() : "");
  if (r.postgres) {
    std::printf(
        "%-24s   PostgreSQL: %.2f transactions an event, %.0f connections opened, %.0f "
        "(auto)vacuum/analyze runs, %.0f checkpoints; rows read by sequential scans an event: "
        "%s",
        "", r.pg.transactions / events, r.pg.sessions, r.pg.vacuums, r.pg.checkpoints,
        r.pg.scanned.empty() ? "none" : r.pg.scanned.c_str());
    if (r.pg.statements > 0) {
      std::printf(", %.1f statements an event; the most time:", r.pg.statements / events);
    }
    std::printf("\n");
    for (const std::string& line : r.pg.top) {
      std::printf("%-24s     %s\n", "", line.c_str());
    }
  }
}

// --- the run -----------------------------------------------------------------------------------

std::vector<Row> RunScenario(const Options& o, const Scenario& s, PostgresServer& server,
                             PgCounters& pg, const fs::path& dir) {
  std::printf("\n%s: %s\n", s.name.c_str(), s.title.c_str());
  std::fflush(stdout);
  const fs::path here = dir / s.name;
  fs::create_directories(here);
  std::string store_table;
  std::string url;
  if (s.postgres) {
    const PostgresServer::Databases dbs = server.Fresh();
    url = dbs.url;
    store_table = StoreTable(server, dbs, here);
  }
  Deployment d = Deploy(o, s, here, store_table);
  if (s.cluster) {
    AwaitShares(o, server, url, s.nodes);
  }
  Route route(d, o.customers);
  const std::string title = s.name + ". " + s.title;
  // Their profiles, made by each customer's first event.
  Row made = Timed(d, server.pid(), pg, route, title, "first events", "w-", o.customers,
                   o.per_request, o.connections);
  std::vector<Row> rows = {made};
  if (s.cluster) {
    AwaitShares(o, server, url, s.nodes);  // still settled before the timed runs
  }
  rows.push_back(Timed(d, server.pid(), pg, route, title,
                       std::to_string(o.per_request) + "/request", "b-", o.events, o.per_request,
                       o.connections));
  if (o.single_events > 0) {
    rows.push_back(Timed(d, server.pid(), pg, route, title, "1/request", "s-", o.single_events, 1,
                         o.connections));
  }
  for (const auto& node : d.nodes) {
    node->Stop();
  }
  return rows;
}

std::vector<Scenario> Chosen(const Options& o) {
  const std::vector<Scenario> all = {
      {"A", "1 node, SQLCipher", false, 1, false},
      {"B", "1 node, PostgreSQL", true, 1, false},
      {"C", "2 nodes, PostgreSQL", true, 2, true},
      {"D", "3 nodes, PostgreSQL", true, 3, true},
  };
  std::vector<Scenario> chosen;
  for (const Scenario& s : all) {
    if (("," + o.scenarios + ",").find("," + s.name + ",") != std::string::npos) {
      chosen.push_back(s);
    }
  }
  return chosen;
}

std::string ServerVersion(PostgresServer& server) {
  auto db = store::pg::Connection::Open(server.AdminUrl("postgres"), &server.superuser_password());
  if (!db) {
    return "?";
  }
  auto r = db->Run("SHOW server_version;");
  return r && r->size() == 1 ? r->Text(0, 0) : "?";
}

void AddOptions(CLI::App& app, Options& o) {
  app.add_option("--customers", o.customers, "customers (subjects) of the stream")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--events", o.events, "events of the batched run")->capture_default_str();
  app.add_option("--single-events", o.single_events, "events of the one-per-request run (0: none)")
      ->capture_default_str();
  app.add_option("--per-request", o.per_request, "events per request in the batched run")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "client connections (each to every node)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "each daemon's HTTP threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--partitions", o.partitions, "[cluster] partitions")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--lease-seconds", o.lease_seconds, "[cluster] lease")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--scenarios", o.scenarios, "which of A,B,C,D to run")->capture_default_str();
  app.add_flag("--fast-postgres", o.fast_postgres,
               "the tests' server settings: fsync, synchronous_commit, full_page_writes off");
  app.add_option("--statements", o.statements,
                 "load pg_stat_statements and print each run's N statements of the most time "
                 "(it costs PostgreSQL some CPU of its own)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--pg-setting", o.pg_settings,
                 "a PostgreSQL server setting NAME=VALUE (repeatable; its log is TMPDIR/"
                 "portrait-pg-*/log while it runs)");
  app.add_option("--portraitd", o.portraitd, "daemon binary (default: beside this one)");
  app.add_flag("--keep", o.keep, "keep the working directory");
}

int Main(int argc, char** argv) {
  CLI::App app{"cluster_bench - cost per event on SQLCipher, PostgreSQL and 2-3 nodes"};
  Options o;
  AddOptions(app, o);
  CLI11_PARSE(app, argc, argv);
  if (o.portraitd.empty()) {
    o.portraitd = (fs::canonical("/proc/self/exe").parent_path() / "portraitd").string();
  }
  const std::string load_before = LoadAverage();
  std::string why;
  std::vector<std::string> settings = o.pg_settings;
  if (o.statements > 0) {
    settings.insert(settings.end(), {"shared_preload_libraries=pg_stat_statements",
                                     "pg_stat_statements.track_planning=on"});
  }
  auto server = PostgresServer::StartOwn(/*durable=*/!o.fast_postgres, settings, why);
  if (!server) {
    Die("PostgreSQL did not start: " + why);
  }
  const fs::path dir =
      fs::temp_directory_path() / ("portrait-cluster-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::printf(
      "%d customers; %lld events %d per request, %lld one per request; %d connections; "
      "portraitd --io-threads %d; PostgreSQL %s on 127.0.0.1, %s; data under %s\n",
      o.customers, static_cast<long long>(o.events), o.per_request,
      static_cast<long long>(o.single_events), o.connections, o.io_threads,
      ServerVersion(*server).c_str(),
      o.fast_postgres ? "fsync off (the tests' settings)" : "durable (fsync on)",
      fs::temp_directory_path().c_str());
  PgCounters pg(*server, o.statements);
  std::vector<Row> rows;
  for (const Scenario& s : Chosen(o)) {
    for (Row& r : RunScenario(o, s, *server, pg, dir)) {
      r.postgres = s.postgres;
      rows.push_back(std::move(r));
    }
  }
  std::printf(
      "\nCPU columns: CPU-seconds per event, in µs, over the run's window: all portraitd nodes "
      "together, the PostgreSQL server, this client, the whole machine.\n");
  std::printf("%-24s %-12s %9s %7s %8s %8s %7s %7s %8s %5s %7s %7s\n", "scenario", "run",
              "events/s", "p50 ms", "p99 ms", "nodes", "pg", "client", "machine", "421s", "ev/grp",
              "ms/grp");
  for (const Row& r : rows) {
    PrintRow(r);
  }
  std::printf("\nload average before %s, after %s; %u cores\n", load_before.c_str(),
              LoadAverage().c_str(), std::thread::hardware_concurrency());
  if (o.keep) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace portrait::bench

int main(int argc, char** argv) { return portrait::bench::Main(argc, argv); }
