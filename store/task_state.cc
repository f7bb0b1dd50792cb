#include "store/task_state.h"

#include <utility>

namespace portrait::store {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, 7> kNames = {{
    {TaskState::kPending, "pending"},
    {TaskState::kSending, "sending"},
    {TaskState::kDelivered, "delivered"},
    {TaskState::kRetrying, "retrying"},
    {TaskState::kDead, "dead"},
    {TaskState::kSuppressed, "suppressed"},
    {TaskState::kCancelled, "cancelled"},
}};

using S = TaskState;

// The one table of allowed changes: from -> to.
constexpr std::pair<TaskState, TaskState> kMoves[] = {
    // Waiting: claimed for an attempt; deferred (quiet hours, the cap, a check that could not be
    // made); suppressed (consent withdrawn, over the cap, purpose gone); cancelled by an admin.
    {S::kPending, S::kSending},
    {S::kPending, S::kPending},
    {S::kPending, S::kSuppressed},
    {S::kPending, S::kCancelled},
    {S::kRetrying, S::kSending},
    {S::kRetrying, S::kRetrying},
    {S::kRetrying, S::kSuppressed},
    {S::kRetrying, S::kCancelled},
    // Sending: the attempt's outcome (retrying also when the daemon stopped during it); refused
    // by the checks right before it; not attempted, put back in the state it was claimed from.
    {S::kSending, S::kDelivered},
    {S::kSending, S::kRetrying},
    {S::kSending, S::kDead},
    {S::kSending, S::kSuppressed},
    {S::kSending, S::kCancelled},
    {S::kSending, S::kPending},
    // Settled but not delivered: an admin's retry.
    {S::kDead, S::kPending},
    {S::kSuppressed, S::kPending},
    {S::kCancelled, S::kPending},
};

}  // namespace

std::string_view TaskStateName(TaskState s) {
  for (const auto& [state, name] : kNames) {
    if (state == s) {
      return name;
    }
  }
  return "?";
}

std::optional<TaskState> ParseTaskState(std::string_view name) {
  for (const auto& [state, n] : kNames) {
    if (n == name) {
      return state;
    }
  }
  return std::nullopt;
}

std::string TaskStateNames(std::string_view separator) {
  std::string out;
  for (TaskState s : kTaskStates) {
    out += out.empty() ? "" : separator;
    out += TaskStateName(s);
  }
  return out;
}

bool CanMove(TaskState from, TaskState to) {
  for (const auto& [f, t] : kMoves) {
    if (f == from && t == to) {
      return true;
    }
  }
  return false;
}

Status CheckMove(int64_t id, std::string_view from, std::string_view to) {
  const std::string task = "task " + std::to_string(id);
  const std::optional<TaskState> target = ParseTaskState(to);
  if (!target) {
    return Status::InvalidArgument(task + ": no task state is named '" + std::string(to) + "'");
  }
  const std::optional<TaskState> stored = ParseTaskState(from);
  if (!stored) {
    return Status::Corruption(task + " is stored in an unknown state");
  }
  if (!CanMove(*stored, *target)) {
    return Status::Conflict(task + " cannot move from " + std::string(from) + " to " +
                            std::string(to));
  }
  return Status::Ok();
}

Status CheckNewState(std::string_view state) {
  if (!ParseTaskState(state)) {
    return Status::InvalidArgument("no task state is named '" + std::string(state) + "'");
  }
  return Status::Ok();
}

bool IsWaiting(TaskState s) { return s != TaskState::kSending && CanMove(s, TaskState::kSending); }

bool IsUnfinished(TaskState s) { return IsWaiting(s) || s == TaskState::kSending; }

bool IsWaiting(std::string_view name) {
  const std::optional<TaskState> s = ParseTaskState(name);
  return s && IsWaiting(*s);
}

bool IsUnfinished(std::string_view name) {
  const std::optional<TaskState> s = ParseTaskState(name);
  return s && IsUnfinished(*s);
}

}  // namespace portrait::store
