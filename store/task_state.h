// A task's lifecycle: the states a task of the outbox can be in, their names (as stored in the
// database and shown by the API and the CLI), and the one table of the changes allowed between
// them. Every write of a task's state goes through the table: the store refuses a change it
// forbids. Plain functions of constant data; thread-safe.
//
// The changes allowed (the table in task_state.cc):
//   pending, retrying  -> sending (claimed), suppressed, cancelled, or themselves (deferred)
//   sending            -> delivered, retrying, dead, suppressed, cancelled, or back to pending
//                         or retrying (not attempted: the daemon stopped, or a check failed)
//   dead, suppressed, cancelled -> pending (an admin's retry)
//   delivered          -> nothing (final)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace portrait::store {

enum class TaskState {
  kPending,     // waiting for its due time
  kSending,     // claimed: an attempt is on its way
  kDelivered,   // the sink accepted it (final)
  kRetrying,    // an attempt failed; waiting for the next
  kDead,        // the sink refused it, or it ran out of attempts
  kSuppressed,  // a consent, cap or the configuration stopped it
  kCancelled,   // an admin cancelled it, or it changed before its attempt
};

// Every state, in the order the API and the CLI list them.
inline constexpr std::array<TaskState, 7> kTaskStates = {
    TaskState::kPending, TaskState::kSending,    TaskState::kDelivered, TaskState::kRetrying,
    TaskState::kDead,    TaskState::kSuppressed, TaskState::kCancelled};

// The state's name, e.g. "pending".
std::string_view TaskStateName(TaskState s);
// std::nullopt when `name` names no state.
std::optional<TaskState> ParseTaskState(std::string_view name);
// The names of every state, in kTaskStates order, joined by `separator`.
std::string TaskStateNames(std::string_view separator = ", ");

// Whether a task in `from` may be written in `to` (staying in a state counts as a change: a
// deferral keeps a waiting task's state and moves its due time).
bool CanMove(TaskState from, TaskState to);
// Ok when task `id` may move from the state named `from` to the one named `to`; Conflict naming
// both when the table forbids it, InvalidArgument when `to` names no state and Corruption when
// `from` (a stored state) names none.
Status CheckMove(int64_t id, std::string_view from, std::string_view to);
// Ok when a new task may be stored in the state named `state` (any state: imports and tests
// store tasks in every state); InvalidArgument when it names none.
Status CheckNewState(std::string_view state);

// Waiting for its due time to be claimed: pending or retrying (the states that may move to
// sending).
bool IsWaiting(TaskState s);
// Not yet settled: waiting or sending. An erasure deletes a profile's unfinished tasks.
bool IsUnfinished(TaskState s);
// The same for a stored name; false for a name that names no state.
bool IsWaiting(std::string_view name);
bool IsUnfinished(std::string_view name);

}  // namespace portrait::store
