// Dispatcher: delivers the outbox (SPEC section 6). Its thread claims due tasks (an index range
// over pending and retrying tasks) and checks each again right before the attempt: the profile
// still exists, the purpose's lawful basis holds for the channel now (and a transfer consent for
// a third-party sink), the purpose's quiet hours and frequency cap in the profile's time zone.
// Each round is one writer job (one commit): the verdicts — `sending` (attempts + 1), deferred,
// `suppressed`, `cancelled` — with the outcomes of the attempts finished since the last round:
// `delivered`, `retrying` after a jittered exponential backoff, or `dead`. Tasks to send then
// go to their sink's workers (`concurrency` threads each). Every change is audited with its
// reason, never a value.
// Delivery is at-least-once: a task left `sending` by a crash is retried at start
// (RecoverInterrupted), with the same id, for receivers to deduplicate.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/consent_service.h"
#include "daemon/metrics.h"
#include "daemon/writer.h"
#include "dispatch/sink.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

struct DispatcherDeps {
  Writer& writer;
  store::Store& store;
  store::ProfileVault& vault;
  ConsentService& consents;
  store::AuditLog& audit;
  const config::ConfigHolder& config;
  const Clock& clock;
  DaemonMetrics& metrics;
  spdlog::logger& log;
};

class Dispatcher {
 public:
  // Opens the config's sinks (one that can't be opened is logged; its tasks wait) and starts.
  explicit Dispatcher(DispatcherDeps deps,
                      std::chrono::milliseconds period = std::chrono::milliseconds(200));
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;

  // Marks the tasks an unclean stop left `sending` as `retrying`, due now. Before a Dispatcher
  // starts.
  static Status RecoverInterrupted(const DispatcherDeps& deps);

  // Tasks may have become due (a group commit created some): look now rather than at the tick.
  void Wake();
  // Stops claiming, waits for the attempts under way (at most a sink's timeout) and records their
  // outcomes; attempts queued but not started go back to pending or retrying, unchanged.
  void Stop();

 private:
  class SinkWorkers;
  struct Attempt;
  struct Verdict;
  // What one writer job records (one commit): the outcomes of finished attempts, the verdicts
  // on due tasks, and at stop the attempts that were queued but never started.
  struct Round {
    std::vector<std::pair<Attempt, dispatch::Outcome>> outcomes;
    std::vector<std::pair<store::TaskRow, Verdict>> verdicts;
    std::vector<Attempt> unstarted;
  };

  void Loop();
  std::vector<std::pair<Attempt, dispatch::Outcome>> TakeOutcomes();
  // Reads each sink's due tasks (as many as its workers can take) and decides on each.
  std::vector<std::pair<store::TaskRow, Verdict>> Claim(int64_t now_us);
  Verdict Decide(const store::TaskRow& task, int64_t now_us,
                 std::map<std::pair<store::ProfileId, std::string>, int>& claimed);
  // Writes the round through the writer; returns the attempts to hand to the sinks (none when
  // the write failed: they are claimed again, and the outcomes wait for the next round).
  std::vector<Attempt> Record(Round round, int64_t now_us);
  // Adds the task's new state (delivered, retrying or dead) to `batch` and returns it; empty
  // when the task is no longer `sending` (erased meanwhile).
  Result<std::string> AddOutcome(const Attempt& attempt, const dispatch::Outcome& outcome,
                                 int64_t now_us, store::Batch& batch);
  // The sink's metrics for a committed outcome.
  void CountSettled(const Attempt& attempt, std::string_view state, int64_t now_us);
  Status AddVerdict(const store::TaskRow& task, const Verdict& verdict, int64_t now_us,
                    store::Batch& batch, std::vector<Attempt>& to_send);
  Status AddUnstarted(const Attempt& attempt, int64_t now_us, store::Batch& batch);
  void Finished(Attempt attempt, dispatch::Outcome outcome, bool idle);
  std::string Render(const store::TaskRow& task, const std::string& external_id,
                     const nlohmann::json& payload, int64_t now_us) const;

  DispatcherDeps d_;
  const std::chrono::milliseconds period_;
  std::map<std::string, std::unique_ptr<SinkWorkers>> sinks_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::vector<std::pair<Attempt, dispatch::Outcome>> outcomes_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
