// TaskService: the outbox as a caller may see and steer it. A caller lists only its purpose's
// tasks (a task's due time can follow from a field, e.g. a birthday greeting's), erasure notices
// (which belong to no purpose) only when its role may erase; it retries a task that ended and
// cancels one still waiting. Every call checks the caller's permission (a refusal is audited)
// and writes an audit record. The task lifecycle the API knows (states, which may be retried or
// cancelled) is kept here, in one place. Thread-safe; Retry and Cancel on the writer thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "daemon/caller.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

class TaskService {
 public:
  TaskService(store::Store& store, store::ProfileVault& vault, store::AuditLog& audit,
              const Clock& clock)
      : store_(store), vault_(vault), audit_(audit), clock_(clock) {}

  // The caller's purpose's tasks by id, filtered by `query` (an API query: state,
  // trigger, profile (external id), since (RFC 3339), after (a task id), limit (1..1000,
  // default 100)). Returns {"tasks": [...], "next_after": the last id of a full page, or null}.
  // Needs tasks.read. InvalidArgument naming the parameter for an unknown or bad one; NotFound
  // for an unknown profile. Audited as tasks.list.
  Result<nlohmann::json> List(const Caller& caller,
                              const std::map<std::string, std::string>& query);

  // Sends a dead, suppressed or cancelled task again, afresh (consent, caps and quiet hours are
  // checked again). Returns the task. Needs tasks.write. NotFound for no such task (`id` as
  // the path gives it); Conflict for a task in another state or a settled erasure notice.
  // Audited as task.pending in the same transaction. Call on the writer thread.
  Result<nlohmann::json> Retry(const Caller& caller, std::string_view id);
  // A task id as the API spells it: decimal digits only. NotFound otherwise ("no such task").
  static Result<int64_t> ParseId(std::string_view text);

  // Cancels a pending or retrying task (one being sent can't be). As Retry otherwise; audited
  // as task.cancelled.
  Result<nlohmann::json> Cancel(const Caller& caller, std::string_view id);

 private:
  enum class Change { kRetry, kCancel };
  Result<nlohmann::json> Apply(const Caller& caller, std::string_view id, Change change);

  store::Store& store_;
  store::ProfileVault& vault_;
  store::AuditLog& audit_;
  const Clock& clock_;
};

// A task as the API shows it, without its payload; "consent" is the id of the consent record
// that authorised it, or null.
nlohmann::json TaskJson(const store::TaskRow& task);

}  // namespace portrait::daemon
