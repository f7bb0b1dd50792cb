// RequestPipeline: keeps up to `depth` POST requests to the daemon in flight, each on a
// connection of its own (the daemon checks and seals one request while its writer commits
// another), and hands every answer to `on_answer` on the caller's thread in the order the
// requests were sent — so what the caller reports (bad lines, counts) comes out as if the
// requests had been sent one at a time. Not thread-safe: one caller thread.
#pragma once

#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "cli/daemon_connection.h"

namespace portrait::cli {

class RequestPipeline {
 public:
  // Returns false to stop: Post then sends nothing more and Post and Drain return false; the
  // answers of the requests already in flight are still handed on.
  using OnAnswer = std::function<bool(Result<nlohmann::json>)>;

  // Opens `depth` (1 or more) connections with `options`.
  static Result<std::unique_ptr<RequestPipeline>> Open(const DaemonOptions& options, int depth,
                                                       OnAnswer on_answer);
  // Waits for the requests still in flight; their answers are dropped (Drain first to have
  // them).
  ~RequestPipeline();

  // Sends POST `target` with `body`, first waiting for the oldest request (and handing on its
  // answer) when `depth` are in flight. False once an answer was refused by `on_answer`.
  bool Post(const std::string& target, std::string body);
  // Waits for every request in flight, handing on their answers oldest first.
  bool Drain();

 private:
  struct InFlight {
    std::future<Result<nlohmann::json>> answer;
    size_t slot = 0;
  };

  RequestPipeline(std::vector<DaemonConnection> slots, OnAnswer on_answer);
  bool TakeOldest();

  std::vector<DaemonConnection> slots_;
  std::vector<size_t> free_;
  std::deque<InFlight> in_flight_;
  OnAnswer on_answer_;
  bool ok_ = true;
};

}  // namespace portrait::cli
