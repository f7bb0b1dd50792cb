#include "daemon/task_service.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "base/time_format.h"
#include "base/url.h"
#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "daemon/task_audit.h"
#include "store/task_state.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr std::string_view kListParameters[] = {"state", "trigger", "profile",
                                                "since", "after",   "limit"};

// "a, b, c" of `names`.
template <typename Names>
std::string Joined(const Names& names) {
  std::string out;
  for (std::string_view name : names) {
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

// The one table of what the API may do to a task: which states a retry or a cancel starts from,
// and the state it leaves the task in.
// Each is a change the lifecycle (store/task_state.h) allows; the API allows fewer.
struct ChangeRule {
  std::string_view verb;  // "retried", "cancelled"
  store::TaskState to;
  std::vector<store::TaskState> from;
  std::string_view why_not;  // added to the refusal, if anything
  bool resends = false;      // sends the task again
};

const ChangeRule kRetryRule{
    .verb = "retried",
    .to = store::TaskState::kPending,
    .from = {store::TaskState::kDead, store::TaskState::kSuppressed, store::TaskState::kCancelled},
    .why_not = "",
    .resends = true};
const ChangeRule kCancelRule{.verb = "cancelled",
                             .to = store::TaskState::kCancelled,
                             .from = {store::TaskState::kPending, store::TaskState::kRetrying},
                             .why_not = " (one being sent can't)",
                             .resends = false};

// "only a, b or c tasks can be retried".
std::string Refusal(const ChangeRule& rule) {
  std::string out = "only ";
  for (size_t i = 0; i < rule.from.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == rule.from.size() ? " or " : ", ");
    out += store::TaskStateName(rule.from[i]);
  }
  return out + " tasks can be " + std::string(rule.verb) + std::string(rule.why_not);
}

// The id of a task as the path gives it; NotFound when it is no number.
// Ok when `rule` may change `task`; else Conflict naming the task, its state and the rule.
Status CheckAllowed(const ChangeRule& rule, const store::TaskRow& task, std::string_view id_text) {
  const std::string name = "task " + std::string(id_text);
  const std::optional<store::TaskState> state = store::ParseTaskState(task.state);
  if (!state || std::find(rule.from.begin(), rule.from.end(), *state) == rule.from.end()) {
    return Status::Conflict(name + " is " + task.state + "; " + Refusal(rule));
  }
  // A settled erasure notice no longer holds the erased customer's id: nothing to resend.
  if (rule.resends && task.trigger == store::kErasureNotice) {
    return Status::Conflict(name +
                            " is a settled erasure notice; its subject is gone and it "
                            "can't be sent again");
  }
  return Status::Ok();
}

// The filter of an API query, not yet scoped to a caller.
Result<store::TaskFilter> FilterOf(const std::map<std::string, std::string>& query,
                                   store::ProfileVault& vault) {
  for (const auto& [key, value] : query) {
    if (std::find(std::begin(kListParameters), std::end(kListParameters), key) ==
        std::end(kListParameters)) {
      return Error(Status::InvalidArgument("query: unknown parameter '" + key + "' (" +
                                           Joined(kListParameters) + ")"));
    }
  }
  store::TaskFilter filter;
  if (auto it = query.find("state"); it != query.end()) {
    if (!store::ParseTaskState(it->second)) {
      return Error(Status::InvalidArgument("state: one of " + store::TaskStateNames()));
    }
    filter.state = it->second;
  }
  if (auto it = query.find("trigger"); it != query.end()) {
    filter.trigger = it->second;
  }
  if (auto it = query.find("profile"); it != query.end()) {
    PORTRAIT_ASSIGN_OR_RETURN(filter.profile_id, vault.IdOf(it->second));
  }
  if (auto it = query.find("since"); it != query.end()) {
    auto since = ParseRfc3339(it->second);
    if (!since) {
      return Error(Status::InvalidArgument("since: expected an RFC 3339 time"));
    }
    filter.since_us = *since;
  }
  PORTRAIT_ASSIGN_OR_RETURN(filter.after_id, QueryInt(query, "after", 0));
  PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, QueryInt(query, "limit", 100));
  filter.limit = static_cast<int>(std::clamp<int64_t>(limit, 1, 1000));
  return filter;
}

}  // namespace

json TaskJson(const store::TaskRow& t) {
  return {{"id", t.id},
          {"trigger", t.trigger},
          {"purpose", t.purpose},
          {"channel", t.channel},
          {"sink", t.sink},
          {"state", t.state},
          {"reason", t.reason},
          {"attempts", t.attempts},
          // The consent record that authorised it (a `consent` purpose's grant), else null.
          {"consent", t.consent_id > 0 ? json(t.consent_id) : json(nullptr)},
          {"due", FormatRfc3339(t.due_us)},
          {"created", FormatRfc3339(t.created_us)},
          {"updated", FormatRfc3339(t.updated_us)}};
}

Result<json> TaskService::List(const Caller& caller,
                               const std::map<std::string, std::string>& query) {
  if (!consent::HasPermission(*caller.role, "tasks.read")) {
    return Error(RefuseRequest(audit_, clock_, caller, "tasks.read"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::TaskFilter filter, FilterOf(query, vault_));
  filter.purpose = caller.purpose->name;
  filter.include_notices = consent::HasPermission(*caller.role, "erase");
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> rows, store_.ListTasks(filter));
  json tasks = json::array();
  for (const store::TaskRow& t : rows) {
    json task = TaskJson(t);
    task["internal_id"] = t.profile_id;
    tasks.push_back(std::move(task));
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Append({store::AuditEntry{
      clock_.NowUs(), caller.Actor(), "tasks.list", filter.profile_id, caller.purpose->name,
      json{{"tasks", rows.size()}, {"state", filter.state}, {"trigger", filter.trigger}}.dump()}}));
  const bool full = rows.size() == static_cast<size_t>(filter.limit);
  return json{{"tasks", std::move(tasks)},
              {"next_after", full ? json(rows.back().id) : json(nullptr)}};
}

Result<int64_t> TaskService::ParseId(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.front() == '-' || error != std::errc() ||
      end != text.data() + text.size()) {
    return Error(Status::NotFound("no such task"));
  }
  return value;
}

Result<json> TaskService::Retry(const Caller& caller, std::string_view id) {
  return Apply(caller, id, Change::kRetry);
}

Result<json> TaskService::Cancel(const Caller& caller, std::string_view id) {
  return Apply(caller, id, Change::kCancel);
}

Result<json> TaskService::Apply(const Caller& caller, std::string_view id_text, Change change) {
  if (!consent::HasPermission(*caller.role, "tasks.write")) {
    return Error(RefuseRequest(audit_, clock_, caller, "tasks.write"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(const int64_t id, ParseId(id_text));
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> task, store_.GetTask(id));
  if (!task) {
    return Error(Status::NotFound("no such task"));
  }
  const bool retry = change == Change::kRetry;
  const ChangeRule& rule = retry ? kRetryRule : kCancelRule;
  PORTRAIT_RETURN_IF_ERROR(CheckAllowed(rule, *task, id_text));
  const int64_t now = clock_.NowUs();
  const std::string reason = std::string(rule.verb) + " by " + caller.Actor();
  const std::string to(store::TaskStateName(rule.to));
  // A settled erasure notice no longer holds the erased customer's id: its payload goes.
  const bool notice = task->trigger == store::kErasureNotice;
  store::Batch batch;
  // A retried task starts afresh: the dispatcher checks consent, caps and quiet hours again.
  batch.task_updates.push_back({id, to, reason, retry ? now : task->due_us,
                                retry ? 0 : task->attempts, now, /*clear_payload=*/notice});
  batch.audit.push_back(TaskAudit(*task, to, reason, now, caller.Actor(), caller.purpose->name));
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  PORTRAIT_ASSIGN_OR_RETURN(task, store_.GetTask(id));
  return TaskJson(*task);
}

}  // namespace portrait::daemon
