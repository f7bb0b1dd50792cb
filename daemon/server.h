// Server: a whole portraitd — store, services, writer, scheduler, HTTP API — assembled from a
// config, explicitly (no singletons). portraitd's main() and the benchmarks build one; it runs
// on the caller's threads until Shutdown.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <memory>

#include "base/clock.h"
#include "base/result.h"
#include "config/config.h"

namespace portrait::daemon {

class Api;

class Server {
 public:
  // Opens the data directory and loads the rules; refuses (with the reason) when either fails.
  static Result<std::unique_ptr<Server>> Open(const config::Config& config, const Clock& clock,
                                              spdlog::logger& log);
  ~Server();

  // Starts serving on "host:port" (port 0: any free one); returns the bound address.
  Result<std::string> Listen(const std::string& address);
  // Runs the io_context on `threads` threads (this one included) until Shutdown completes.
  void Run(int threads);
  // Graceful stop, callable from any thread: stop accepting, answer requests in flight, flush the
  // writer; Run then returns. Call Close after Run returns.
  void Shutdown();
  // Stops the scheduler and writer and signs the final audit checkpoint.
  Status Close();
  // Reloads portrait.toml and the rule files it names, together; keeps both in force (and
  // returns why) when either has an error. Settings read only at start keep their values, and
  // the log says which changed (see config::KeepStartOnlySettings).
  Status Reload();
  // Has the scheduler check the evaluated mark at once (Scheduler::RequestReevaluation): after a
  // score refresh or a model fit committed a re-evaluation request. Does nothing before Listen.
  void RequestReevaluation();

  boost::asio::io_context& io();
  // The request handler without the sockets (the fuzz harness drives it directly).
  Api& api();
  int64_t profiles() const;
  size_t triggers() const;

 private:
  struct Parts;
  explicit Server(std::unique_ptr<Parts> parts);
  void DrainTick();
  // Signs the audit chain's head every checkpoint_interval while the daemon runs.
  void CheckpointTick();
  // Runs the models' and scores' refresh crons that came due, every 5 seconds.
  void CronsTick();
  std::unique_ptr<Parts> p_;
};

}  // namespace portrait::daemon
