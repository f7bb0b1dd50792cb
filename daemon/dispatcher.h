// Dispatcher: delivers the outbox; the coordinator of the dispatch. Its thread claims due tasks
// (an index range over pending and retrying tasks, sink by sink), reads what the send decision
// needs — the profile, its sealed payload, the consent ledger, the time zone, the tasks counted
// against the purpose's cap — and lets DecideSend (send_decision.h) decide: send, defer,
// suppress, cancel, or wait when a read failed (the task is left as it is and decided again
// next round). Each round is one writer job (one commit): the verdicts — `sending` (attempts
// + 1), deferred, `suppressed`, `cancelled` — with the outcomes of the attempts finished since
// the last round: `delivered`, `retrying` after a jittered exponential backoff, or `dead`.
// Tasks to send then go to their sink's workers (sink_workers.h), which check each once more
// right before the attempt under a SendGate pass (Recheck), so an erasure or a withdrawal
// reaches attempts already queued. Erasure notices ($profile.erased tasks) go out as
// `profile.erased` CloudEvents. Every change is audited with its reason, never a value.
// Delivery is at-least-once: a task left `sending` by a crash is retried at start
// (RecoverInterrupted), with the same id, for receivers to deduplicate.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "daemon/attempt.h"
#include "daemon/cluster_node.h"
#include "daemon/consent_service.h"
#include "daemon/rules_holder.h"
#include "daemon/send_decision.h"
#include "daemon/send_gate.h"
#include "daemon/sink_workers.h"
#include "daemon/telemetry.h"
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
  const RulesHolder& rules;  // whether a task's trigger profiles the customer
  const Clock& clock;
  Telemetry& telemetry;
  spdlog::logger& log;
  // Among several nodes: which partitions this one holds and took (null: one node, all).
  ClusterNode* cluster = nullptr;
};

class Dispatcher {
 public:
  // Opens the config's sinks (one that can't be opened is logged; its tasks wait) and starts.
  explicit Dispatcher(DispatcherDeps deps,
                      std::chrono::milliseconds period = std::chrono::milliseconds(200));
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;

  // Marks the tasks an unclean stop left `sending` as `retrying`, due now: every one before a
  // Dispatcher of a single node starts; among several nodes, those of the profiles `only`
  // accepts (of partitions just taken from a node that stopped), from the dispatcher's rounds.
  static Status RecoverInterrupted(const DispatcherDeps& deps,
                                   const std::function<bool(store::ProfileId)>& only = nullptr);

  // Tasks may have become due (a group commit created some): look now rather than at the tick.
  void Wake();
  // Stops claiming, waits for the attempts under way (at most a sink's timeout) and records their
  // outcomes; attempts queued but not started go back to pending or retrying, unchanged.
  void Stop();

 private:
  struct Verdict;
  using Claimed = std::map<std::pair<store::ProfileId, std::string>, int>;  // this round's sends
  // What one writer job records (one commit): the outcomes of finished attempts, the verdicts
  // on due tasks, and at stop the attempts that were queued but never started.
  struct Round {
    std::vector<std::pair<Attempt, dispatch::Outcome>> outcomes;
    std::vector<std::pair<store::TaskRow, Verdict>> verdicts;
    std::vector<Attempt> unstarted;
  };

  void OpenSinks();
  void Loop();
  // Among several nodes: recovers the interrupted attempts of the partitions taken lately.
  void RecoverTaken();
  // Drops the outcomes of tasks whose partition this node no longer holds: their new holder
  // retries them (same id), and a commit including them would be refused.
  void DropForeignOutcomes(Round& round);
  // At the stop: lets the attempts under way finish and records them and the unstarted ones.
  void Finish();
  bool Stopping();
  std::vector<std::pair<Attempt, dispatch::Outcome>> TakeOutcomes();
  // Reads each sink's due tasks (as many as its workers can take) and decides on each.
  std::vector<std::pair<store::TaskRow, Verdict>> Claim(int64_t now_us);
  // Reads the facts about `task` and lets DecideSend decide.
  Verdict Decide(const store::TaskRow& task, int64_t now_us, Claimed& claimed);
  // An erasure notice: its CloudEvent (type profile.erased, data {"subject": external id}).
  Verdict DecideNotice(const store::TaskRow& task, int64_t now_us) const;
  // Opens the task's sealed payload into `bodies`; the verdict when it can't be.
  std::optional<SendVerdict> OpenBodies(const store::TaskRow& task, const store::ProfileRow& row,
                                        int64_t now_us, Attempt::Bodies& bodies);
  // Cancel, when `task` comes from a profiling trigger (rules::Trigger::profiling; a trigger the
  // rules no longer have counts as one when its purpose is marketing) and the customer objects
  // to personalisation at `now_us` (docs/DECISIONS.md 111); else nullopt.
  std::optional<SendVerdict> ObjectionRefuses(const store::TaskRow& task,
                                              const config::Purpose& purpose,
                                              const std::vector<consent::ConsentRecord>& ledger,
                                              int64_t now_us) const;
  // The consent facts of `task`, its message `bodies` and its customer's `ledger`.
  ConsentFacts FactsOf(const store::TaskRow& task, const config::Purpose* purpose,
                       const Attempt::Bodies& bodies,
                       const std::vector<consent::ConsentRecord>* ledger) const;
  // The profile's tasks counted against the purpose's cap in `zone`, with those claimed this
  // round; a failed read is logged and returned.
  Result<int64_t> CountTowardsCap(const store::TaskRow& task, const config::Purpose& purpose,
                                  std::string_view zone, int64_t now_us, Claimed& claimed);
  // On a sink worker, right before an attempt: the task is still `sending` as claimed (an
  // erasure deletes it, a withdrawal or cancel moves it), and CheckConsent holds now.
  std::optional<SendVerdict> Recheck(Attempt& attempt);
  // Writes the round through the writer; returns the attempts to hand to the sinks (none when
  // the write failed: they are claimed again, and the outcomes wait for the next round).
  std::vector<Attempt> Record(Round round, int64_t now_us);
  // Adds the round's changes to `batch`: `settled` gets each outcome's attempt and new state,
  // `to_send` the attempts the verdicts send.
  Status AddRound(const Round& round, int64_t now_us, store::Batch& batch,
                  std::vector<std::pair<const Attempt*, std::string>>& settled,
                  std::vector<Attempt>& to_send);
  // After a failed write: logs it and keeps the round's outcomes for the next round.
  void KeepOutcomes(Round round, const Status& written);
  // Adds the task's new state (delivered, retrying or dead) to `batch` and returns it; empty
  // when the task is no longer `sending` (erased meanwhile).
  Result<std::string> AddOutcome(const Attempt& attempt, const dispatch::Outcome& outcome,
                                 int64_t now_us, store::Batch& batch);
  // Adds the state of an attempt its last check stopped (suppressed, cancelled, or back to
  // waiting) to `batch`; returns it.
  std::string AddRefused(const Attempt& attempt, const SendVerdict& verdict, int64_t now_us,
                         store::Batch& batch);
  // The sink's telemetry for a committed outcome.
  void CountSettled(const Attempt& attempt, std::string_view state, int64_t now_us);
  // Adds the verdict on a claimed task to `batch` unless the task changed meanwhile; a task to
  // send goes to `to_send`.
  Status AddVerdict(const store::TaskRow& task, const Verdict& verdict, int64_t now_us,
                    store::Batch& batch, std::vector<Attempt>& to_send);
  // The task's new state for `verdict`; `action` gets the audit action.
  static store::TaskUpdate VerdictUpdate(const store::TaskRow& task, const SendVerdict& verdict,
                                         int64_t now_us, std::string& action);
  Status AddUnstarted(const Attempt& attempt, int64_t now_us, store::Batch& batch);
  // On a sink worker: keeps the outcome for the next round, waking the loop when it is time.
  void Finished(Attempt attempt, dispatch::Outcome outcome, bool idle);

  DispatcherDeps d_;
  const std::chrono::milliseconds period_;
  std::map<std::string, std::unique_ptr<SinkWorkers>> sinks_;
  Mutex mu_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool woken_ GUARDED_BY(mu_) = false;
  std::vector<std::pair<Attempt, dispatch::Outcome>> outcomes_ GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
