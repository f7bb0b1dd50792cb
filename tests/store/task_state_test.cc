// The task lifecycle's names and its one table of allowed changes.
#include "store/task_state.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace portrait::store {
namespace {

// Written out here, by name, independently of the table in task_state.cc.
const std::set<std::pair<std::string, std::string>> kAllowed = {
    {"pending", "pending"},     {"pending", "sending"},    {"pending", "suppressed"},
    {"pending", "cancelled"},   {"retrying", "retrying"},  {"retrying", "sending"},
    {"retrying", "suppressed"}, {"retrying", "cancelled"}, {"sending", "delivered"},
    {"sending", "retrying"},    {"sending", "dead"},       {"sending", "suppressed"},
    {"sending", "cancelled"},   {"sending", "pending"},    {"dead", "pending"},
    {"suppressed", "pending"},  {"cancelled", "pending"}};

TEST(TaskState, NamesRoundTripAndUnknownNamesParseToNothing) {
  EXPECT_EQ(TaskStateNames(), "pending, sending, delivered, retrying, dead, suppressed, cancelled");
  for (TaskState s : kTaskStates) {
    EXPECT_EQ(ParseTaskState(TaskStateName(s)), s) << TaskStateName(s);
  }
  for (std::string_view bad : {"", "Pending", "queued", "pending ", "?"}) {
    EXPECT_FALSE(ParseTaskState(bad)) << bad;
  }
}

TEST(TaskState, EveryAllowedChangeIsAllowed) {
  for (const auto& [from, to] : kAllowed) {
    EXPECT_TRUE(CanMove(*ParseTaskState(from), *ParseTaskState(to))) << from << " -> " << to;
    EXPECT_TRUE(CheckMove(1, from, to).ok()) << from << " -> " << to;
  }
}

TEST(TaskState, EveryOtherChangeIsForbidden) {
  int forbidden = 0;
  for (TaskState from : kTaskStates) {
    for (TaskState to : kTaskStates) {
      const std::pair<std::string, std::string> names(TaskStateName(from), TaskStateName(to));
      if (!kAllowed.count(names)) {
        ++forbidden;
        EXPECT_FALSE(CanMove(from, to)) << names.first << " -> " << names.second;
      }
    }
  }
  EXPECT_EQ(forbidden, 49 - 17);
}

TEST(TaskState, ForbiddenChangesAreConflictsNamingBothStates) {
  const std::pair<std::string_view, std::string_view> sample[] = {
      {"delivered", "pending"},  {"dead", "sending"},        {"cancelled", "delivered"},
      {"suppressed", "sending"}, {"delivered", "delivered"}, {"pending", "dead"}};
  for (const auto& [from, to] : sample) {
    const Status s = CheckMove(42, from, to);
    EXPECT_EQ(s.code(), Status::Code::kConflict) << from << " -> " << to;
    EXPECT_EQ(s.message(),
              "task 42 cannot move from " + std::string(from) + " to " + std::string(to));
  }
}

TEST(TaskState, UnknownNamesAreRefused) {
  EXPECT_EQ(CheckMove(1, "pending", "queued").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CheckMove(1, "queued", "pending").code(), Status::Code::kCorruption);
  EXPECT_EQ(CheckNewState("").code(), Status::Code::kInvalidArgument);
  for (TaskState s : kTaskStates) {
    EXPECT_TRUE(CheckNewState(TaskStateName(s)).ok());
  }
}

TEST(TaskState, WaitingAndUnfinishedStates) {
  std::set<std::string_view> waiting;
  std::set<std::string_view> unfinished;
  for (TaskState s : kTaskStates) {
    if (IsWaiting(s)) {
      waiting.insert(TaskStateName(s));
    }
    if (IsUnfinished(s)) {
      unfinished.insert(TaskStateName(s));
    }
  }
  EXPECT_EQ(waiting, (std::set<std::string_view>{"pending", "retrying"}));
  EXPECT_EQ(unfinished, (std::set<std::string_view>{"pending", "retrying", "sending"}));
  EXPECT_TRUE(IsWaiting("retrying"));
  EXPECT_FALSE(IsWaiting("sending"));
  EXPECT_TRUE(IsUnfinished("sending"));
  EXPECT_FALSE(IsUnfinished("queued"));
}

}  // namespace
}  // namespace portrait::store
