// The scale benchmark's daemon: a child portraitd on 127.0.0.1 over a data directory, started,
// stopped and watched from outside (its resident memory from /proc, its log in a file), and
// the HTTP helpers the benchmark drives it with. Not thread-safe, except Call (one HttpClient
// per thread) and RssKiB.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/http_client.h"

namespace portrait::bench {

class ChildDaemon {
 public:
  // `binary` runs with `--config config --listen 127.0.0.1:PORT --io-threads io_threads`, its
  // output appended to `log_path`.
  ChildDaemon(std::string binary, std::string config, std::string log_path, int io_threads);
  ~ChildDaemon();

  // Starts it (with PORTRAIT_TEST_NOW=`test_now` when not empty) and waits until /healthz
  // answers; returns the milliseconds from the exec to that answer, or -1 when it never did.
  double Start(const std::string& test_now = "");
  // SIGTERM, then waits for the exit; returns the milliseconds that took.
  double Stop();
  // VmRSS of the running daemon, in KiB (0 when not running).
  long RssKiB() const;
  // The CPU time (user + system) the running daemon has used, in seconds.
  double CpuSeconds() const;
  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }

 private:
  std::string binary_, config_, log_path_;
  int io_threads_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Runs fn(client, begin, end) over [0, count) in chunks of `step` on `connections` threads, one
// HttpClient each. Returns the seconds it took.
double ParallelFor(int port, int connections, int64_t count, int64_t step,
                   const std::function<void(cli::HttpClient&, int64_t, int64_t)>& fn);
// Authorization and purpose headers for the bench's admin token.
std::map<std::string, std::string> Headers(const std::string& token);
// The value of counter `name` in GET /metrics (0 when absent).
double Metric(cli::HttpClient& client, const std::string& token, const std::string& name);
// The p-th quantile (0..1) of `v` (sorted in place).
double Quantile(std::vector<double>& v, double p);
// Total size of the files under `dir`.
long long DirBytes(const std::string& dir);
// How many lines of the file at `path` contain `needle`, and the last of them.
std::pair<int, std::string> GrepLog(const std::string& path, const std::string& needle);
// Waits up to `seconds` until the file at `path` has more than `before` lines containing
// `needle`; returns the last of them, or "" when none came.
std::string AwaitLogLine(const std::string& path, const std::string& needle, int before,
                         double seconds);

}  // namespace portrait::bench
