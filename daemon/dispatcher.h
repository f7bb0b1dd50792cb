// Dispatcher: delivers the outbox (SPEC section 6). Its thread claims due tasks (an index range
// over pending and retrying tasks) and checks each again right before the attempt: the profile
// still exists, the customer's consents allow it now (CheckTaskConsent: lawful basis, sensitive
// and transfer consents, the personalisation opt-out — an opted-out customer gets the plain
// message or nothing), the purpose's quiet hours and frequency cap in the profile's time zone.
// Each round is one writer job (one commit): the verdicts — `sending` (attempts + 1), deferred,
// `suppressed`, `cancelled` — with the outcomes of the attempts finished since the last round:
// `delivered`, `retrying` after a jittered exponential backoff, or `dead`. Tasks to send then
// go to their sink's workers (`concurrency` threads each). A worker checks once more right
// before each attempt — the task is still `sending` as claimed, its consent still holds — under
// a SendGate pass, so an erasure or a withdrawal reaches attempts already queued. Erasure
// notices ($profile.erased tasks) go out as `profile.erased` CloudEvents. Every change is
// audited with its reason, never a value.
// Delivery is at-least-once: a task left `sending` by a crash is retried at start
// (RecoverInterrupted), with the same id, for receivers to deduplicate.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/consent_service.h"
#include "daemon/telemetry.h"
#include "daemon/send_gate.h"
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
  SendGate& gate;                    // held by each attempt from its last check to its end
  const crypto::KeyHierarchy& keys;  // opens erasure notices
  store::AuditLog& audit;
  const config::ConfigHolder& config;
  const Clock& clock;
  Telemetry& telemetry;
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
  struct Bodies;
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
  // Adds the state of an attempt its last check stopped (suppressed, cancelled, or back to
  // waiting) to `batch`; returns it.
  std::string AddRefused(const Attempt& attempt, const Verdict& verdict, int64_t now_us,
                         store::Batch& batch);
  // The sink's telemetry for a committed outcome.
  void CountSettled(const Attempt& attempt, std::string_view state, int64_t now_us);
  Status AddVerdict(const store::TaskRow& task, const Verdict& verdict, int64_t now_us,
                    store::Batch& batch, std::vector<Attempt>& to_send);
  Status AddUnstarted(const Attempt& attempt, int64_t now_us, store::Batch& batch);
  void Finished(Attempt attempt, dispatch::Outcome outcome, bool idle);
  // An erasure notice: its CloudEvent (type profile.erased, data {"subject": external id}).
  Verdict DecideNotice(const store::TaskRow& task, int64_t now_us) const;
  // The task's consent, checked at the claim and again right before the attempt: the verdict
  // that stops it, or nullopt (with `bodies` switched to the plain one for a customer who opted
  // out of personalisation).
  std::optional<Verdict> CheckConsent(const store::TaskRow& task, const config::Purpose& purpose,
                                      Bodies& bodies, int64_t now_us);
  // Quiet hours and the frequency cap: the verdict that holds the task back, or nullopt.
  std::optional<Verdict> Pace(const store::TaskRow& task, const config::Purpose& purpose,
                              const store::ProfileRow& row, const config::Config& config,
                              int64_t now_us,
                              std::map<std::pair<store::ProfileId, std::string>, int>& claimed);
  // On a sink worker, right before an attempt: the task is still `sending` as claimed (an
  // erasure deletes it, a withdrawal or cancel moves it), and CheckConsent holds now.
  std::optional<Verdict> Recheck(Attempt& attempt);
  static Bodies Render(const store::TaskRow& task, const std::string& external_id,
                       const nlohmann::json& payload, int64_t now_us);
  static std::string RenderEvent(const store::TaskRow& task, const std::string& external_id,
                                 const std::string& task_name, const std::string& message,
                                 const nlohmann::json& fields, int64_t now_us);

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
