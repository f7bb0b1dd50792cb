#include "cli/tasks_command.h"

#include <cstdio>
#include <iostream>

#include "base/url.h"
#include "cli/daemon_connection.h"
#include "store/task_state.h"

namespace portrait::cli {
namespace {

struct TasksOptions {
  DaemonOptions daemon;
  std::string state;
  std::string trigger;
  std::string profile;
  std::string since;
  int64_t after = 0;
  int limit = 100;
  int64_t id = 0;
};

// The names `tasks list --state` accepts: every task state's.
std::vector<std::string> StateNames() {
  std::vector<std::string> out;
  for (store::TaskState s : store::kTaskStates) {
    out.emplace_back(store::TaskStateName(s));
  }
  return out;
}

std::string ListTarget(const TasksOptions& o) {
  std::string target = "/v1/tasks?limit=" + std::to_string(o.limit);
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      target += std::string("&") + key + "=" + PercentEncode(value);
    }
  };
  add("state", o.state);
  add("trigger", o.trigger);
  add("profile", o.profile);
  add("since", o.since);
  if (o.after > 0) {
    target += "&after=" + std::to_string(o.after);
  }
  return target;
}

void PrintTasks(const nlohmann::json& answer) {
  std::printf("%-8s %-10s %-24s %-8s %-12s %-8s %-21s %s\n", "ID", "STATE", "TRIGGER", "PROFILE",
              "SINK", "ATTEMPTS", "DUE", "REASON");
  const nlohmann::json tasks = answer.value("tasks", nlohmann::json::array());
  for (const auto& t : tasks) {
    std::printf("%-8lld %-10s %-24s %-8lld %-12s %-8d %-21s %s\n",
                static_cast<long long>(t.value("id", int64_t{0})), t.value("state", "").c_str(),
                t.value("trigger", "").c_str(),
                static_cast<long long>(t.value("internal_id", int64_t{0})),
                t.value("sink", "").c_str(), t.value("attempts", 0), t.value("due", "").c_str(),
                t.value("reason", "").c_str());
  }
  if (const nlohmann::json next = answer.value("next_after", nlohmann::json()); next.is_number()) {
    std::cerr << "more tasks: run again with --after " << next.get<int64_t>() << "\n";
  } else if (tasks.empty()) {
    std::cerr << "no tasks match\n";
  }
}

int List(const TasksOptions& o) {
  return CallAndPrint(o.daemon, "tasks list", "GET", ListTarget(o), "", PrintTasks);
}

// retry or cancel: the daemon checks the task's state and answers 409 from the wrong one.
int Change(const TasksOptions& o, const std::string& verb) {
  return CallAndPrint(
      o.daemon, "tasks " + verb, "POST", "/v1/tasks/" + std::to_string(o.id) + "/" + verb, "",
      [&](const nlohmann::json& answer) {
        std::cout << "task " << o.id << " is now " << answer.value("state", "") << "\n";
      });
}

}  // namespace

void AddTasksCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TasksOptions>();
  CLI::App* tasks = app.add_subcommand(
      "tasks",
      "The dispatch outbox: tasks that triggers created, and what became of them (delivered, "
      "retrying, dead, suppressed by consent, cancelled). Through the running daemon.");
  tasks->require_subcommand(1);

  CLI::App* list = tasks->add_subcommand(
      "list",
      "List tasks, oldest first, with the reason of their last change. Profiles are shown by "
      "internal id; a task's payload is never shown.\n"
      "  portraitctl tasks list --state dead          what needs attention\n"
      "  portraitctl tasks list --profile C1042       one customer's tasks (by external id)");
  list->add_option("--state", o->state, "only this state: " + store::TaskStateNames())
      ->check(CLI::IsMember(StateNames()));
  list->add_option("--trigger", o->trigger, "only this trigger's tasks");
  list->add_option("--profile", o->profile, "only this customer's tasks (external id)");
  list->add_option("--since", o->since, "created at or after this RFC 3339 time");
  list->add_option("--after", o->after, "page on: only tasks with a larger id");
  list->add_option("--limit", o->limit, "at most this many (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  AddDaemonOptions(list, o->daemon);
  list->callback([o, &exit_code] { exit_code = List(*o); });

  CLI::App* retry = tasks->add_subcommand(
      "retry",
      "Send a dead, suppressed or cancelled task again: it becomes pending, and consent, caps "
      "and quiet hours are checked again before it is sent.\n"
      "  portraitctl tasks retry 17");
  retry->add_option("id", o->id, "the task's id (from tasks list)")->required();
  AddDaemonOptions(retry, o->daemon);
  retry->callback([o, &exit_code] { exit_code = Change(*o, "retry"); });

  CLI::App* cancel =
      tasks->add_subcommand("cancel",
                            "Cancel a pending or retrying task: it will not be sent. Audited.\n"
                            "  portraitctl tasks cancel 18");
  cancel->add_option("id", o->id, "the task's id (from tasks list)")->required();
  AddDaemonOptions(cancel, o->daemon);
  cancel->callback([o, &exit_code] { exit_code = Change(*o, "cancel"); });
}

}  // namespace portrait::cli
