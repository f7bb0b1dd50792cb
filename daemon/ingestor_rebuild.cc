// Ingestor: the rebuild pass of values kept from events (metrics, purchase books) whose marks
// are missing — a [[metric]] or [[model]] added, or redefined, when events of its type were
// already stored (daemon/kept_marks.h, docs/DECISIONS.md 142).
#include "daemon/ingestor.h"
#include "daemon/profile_events.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {

Result<Ingestor::RebuildStep> Ingestor::RebuildKept(const KeptTargets& targets,
                                                    store::ProfileId after, int limit,
                                                    std::optional<int> part) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<store::TimerInputs> inputs,
      part ? store_.RearmInputsIn(*part, after, limit) : store_.RearmInputs(after, limit));
  RebuildStep step;
  if (inputs.empty()) {
    return step;
  }
  const int64_t now = clock_.NowUs();
  const auto wanted = [&targets](std::string_view type) { return targets.Reads(type); };
  store::Batch batch;
  for (const store::TimerInputs& in : inputs) {
    auto open = vault_.Open(in.profile_id);
    if (!open && open.error().code() == Status::Code::kNotFound) {
      continue;  // erased meanwhile (its key gone first)
    }
    if (!open && open.error().code() == Status::Code::kCorruption) {
      ++step.counts.unreadable_profiles;  // left as it is: damage must not stop the pass
      step.damaged.push_back(in.profile_id);
      continue;
    }
    if (!open) {
      return Error(open.error());  // a read that failed: the job is tried again
    }
    ++step.counts.profiles;
    const int64_t unreadable = step.counts.unreadable_events;
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<PlainEvent> events,
                              OpenEvents(store_, *open, wanted, &step.counts.unreadable_events));
    if (step.counts.unreadable_events != unreadable) {
      step.damaged.push_back(in.profile_id);
    }
    nlohmann::json& metrics = open->profile.metrics;
    if (!metrics.is_object()) {
      metrics = nlohmann::json::object();
    }
    const nlohmann::json before = metrics;
    rules::ForgetMetrics(targets.metrics, metrics);
    for (const rules::Model& m : targets.models) {
      rules::ForgetBook(m.name, metrics);
    }
    ApplyKept(targets.metrics, targets.models, events, metrics);
    if (metrics == before) {
      continue;
    }
    PORTRAIT_ASSIGN_OR_RETURN(store::ProfileWrite write, vault_.StateWrite(*open, now));
    batch.profiles.push_back(std::move(write));
    ++step.counts.changed;
  }
  if (!batch.profiles.empty()) {
    batch.meta[RebuildChangedKey(part)] = "1";
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
    for (const store::ProfileWrite& w : batch.profiles) {
      Forget(w.row.id);  // what is kept open holds the values before
    }
  }
  step.last = inputs.back().profile_id;
  return step;
}

}  // namespace portrait::daemon
