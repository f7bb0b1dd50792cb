#include "daemon/task_service.h"

#include <gtest/gtest.h>

#include "tests/daemon/outbox_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class TaskServiceTest : public OutboxFixture {
 protected:
  std::vector<int64_t> Ids(const json& listed) {
    std::vector<int64_t> ids;
    for (const json& t : listed["tasks"]) {
      ids.push_back(t["id"].get<int64_t>());
    }
    return ids;
  }
  const store::AuditEntry& Last() {
    last_ = Audit().back();
    return last_.entry;
  }
  store::AuditRecord last_;
};

TEST_F(TaskServiceTest, ListShowsOnlyTheCallersPurposesTasks) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t care = AddTask(id, "birthday-greeting", "care", "pending");
  const int64_t marketing = AddTask(id, "win-back", "marketing", "pending");

  auto as_care = tasks_.List(As("care_agent", "care"), {});
  ASSERT_TRUE(as_care) << as_care.error().ToString();
  EXPECT_EQ(Ids(*as_care), std::vector<int64_t>{care});
  EXPECT_EQ((*as_care)["tasks"][0]["internal_id"], id);
  EXPECT_EQ(Last().action, "tasks.list");
  EXPECT_EQ(Last().purpose, "care");
  EXPECT_EQ(json::parse(Last().detail)["tasks"], 1);

  auto as_marketing = tasks_.List(As("admin", "marketing"), {});
  ASSERT_TRUE(as_marketing);
  EXPECT_EQ(Ids(*as_marketing), std::vector<int64_t>{marketing});
  EXPECT_TRUE((*as_marketing)["next_after"].is_null());
}

TEST_F(TaskServiceTest, ErasureNoticesOnlyToARoleThatMayErase) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t care = AddTask(id, "birthday-greeting", "care", "pending");
  const int64_t notice = AddTask(id, std::string(store::kErasureNotice), "", "pending");

  EXPECT_EQ(Ids(tasks_.List(As("admin", "care"), {}).value()),
            (std::vector<int64_t>{care, notice}));
  EXPECT_EQ(Ids(tasks_.List(As("care_agent", "care"), {}).value()), std::vector<int64_t>{care});
}

TEST_F(TaskServiceTest, ListFiltersAndPages) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t first = AddTask(id, "birthday-greeting", "care", "pending");
  const int64_t dead = AddTask(id, "vip-thank-you", "care", "dead");
  Profile("c2", {{"name", "B"}});
  Caller care = As("care_agent", "care");

  EXPECT_EQ(Ids(tasks_.List(care, {{"state", "dead"}}).value()), std::vector<int64_t>{dead});
  EXPECT_EQ(Ids(tasks_.List(care, {{"trigger", "birthday-greeting"}}).value()),
            std::vector<int64_t>{first});
  EXPECT_TRUE(Ids(tasks_.List(care, {{"profile", "c2"}}).value()).empty());
  auto page = tasks_.List(care, {{"limit", "1"}}).value();
  EXPECT_EQ(Ids(page), std::vector<int64_t>{first});
  EXPECT_EQ(page["next_after"], first);
  EXPECT_EQ(Ids(tasks_.List(care, {{"after", std::to_string(first)}}).value()),
            std::vector<int64_t>{dead});
}

TEST_F(TaskServiceTest, ListRefusesBadQueriesAndCallersWithoutTasksRead) {
  Caller care = As("care_agent", "care");
  for (const auto& [key, value, named] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"sort", "id", "query: unknown parameter 'sort'"},
           {"state", "lost",
            "state: one of pending, sending, delivered, retrying, dead, "
            "suppressed, cancelled"},
           {"since", "yesterday", "since:"},
           {"limit", "-1", "limit:"}}) {
    auto listed = tasks_.List(care, {{key, value}});
    ASSERT_FALSE(listed) << key;
    EXPECT_EQ(listed.error().code(), Status::Code::kInvalidArgument) << key;
    EXPECT_EQ(listed.error().message().rfind(named, 0), 0u) << listed.error().message();
  }
  EXPECT_EQ(tasks_.List(care, {{"profile", "nobody"}}).error().code(), Status::Code::kNotFound);

  auto refused = tasks_.List(As("marketer", "marketing"), {{"state", "lost"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kPermissionDenied);  // before the query
  EXPECT_EQ(Last().action, "request.refused");
  EXPECT_NE(Last().detail.find("tasks.read"), std::string::npos);
}

TEST_F(TaskServiceTest, RetryStartsAnEndedTaskAfreshAndAuditsIt) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  Caller admin = As("admin", "care");
  for (const char* state : {"dead", "suppressed", "cancelled"}) {
    const int64_t task = AddTask(id, "birthday-greeting", "care", state);
    clock_.Advance(std::chrono::minutes(5));
    auto retried = tasks_.Retry(admin, std::to_string(task));
    ASSERT_TRUE(retried) << state << ": " << retried.error().ToString();
    EXPECT_EQ((*retried)["state"], "pending");
    EXPECT_EQ((*retried)["attempts"], 0);
    EXPECT_EQ((*retried)["due"], At(Now()));
    EXPECT_EQ((*retried)["reason"], "retried by token:admin-token role:admin");
    EXPECT_EQ(Last().action, "task.pending");
    EXPECT_EQ(Last().actor, "token:admin-token role:admin");
    EXPECT_EQ(Last().profile_id, id);
    EXPECT_EQ(json::parse(Last().detail)["from"], state);
    EXPECT_EQ(json::parse(Last().detail)["task"], task);
  }
}

// Only decimal digits name a task (the 421 among several nodes reads ids the same way).
TEST_F(TaskServiceTest, ATaskIdIsDigitsOnly) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t task = AddTask(id, "birthday-greeting", "care", "dead");
  const std::string n = std::to_string(task);
  EXPECT_EQ(TaskService::ParseId(n).value(), task);
  for (const std::string& spelled : {"+" + n, " " + n, n + " ", "-" + n, n + "x", "0x" + n,
                                     std::string(""), std::string("99999999999999999999")}) {
    auto parsed = TaskService::ParseId(spelled);
    ASSERT_FALSE(parsed) << spelled;
    EXPECT_EQ(parsed.error().code(), Status::Code::kNotFound) << spelled;
    auto retried = tasks_.Retry(As("admin", "care"), spelled);
    ASSERT_FALSE(retried) << spelled;
    EXPECT_EQ(retried.error().code(), Status::Code::kNotFound) << spelled;
  }
  EXPECT_EQ(store_.GetTask(task).value()->state, "dead");
}

TEST_F(TaskServiceTest, RetryRefusesATaskThatHasNotEndedOrASettledNotice) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  Caller admin = As("admin", "care");
  for (const char* state : {"pending", "sending", "delivered", "retrying"}) {
    const int64_t task = AddTask(id, "birthday-greeting", "care", state);
    const size_t audited = Audit().size();
    auto retried = tasks_.Retry(admin, std::to_string(task));
    ASSERT_FALSE(retried) << state;
    EXPECT_EQ(retried.error().code(), Status::Code::kConflict);
    EXPECT_EQ(retried.error().message(),
              "task " + std::to_string(task) + " is " + state +
                  "; only dead, suppressed or cancelled tasks can be retried");
    EXPECT_EQ(store_.GetTask(task).value()->state, state);
    EXPECT_EQ(Audit().size(), audited);
  }
  const int64_t notice = AddTask(id, std::string(store::kErasureNotice), "", "dead");
  auto resent = tasks_.Retry(admin, std::to_string(notice));
  ASSERT_FALSE(resent);
  EXPECT_EQ(resent.error().code(), Status::Code::kConflict);
  EXPECT_NE(resent.error().message().find("settled erasure notice"), std::string::npos);
}

TEST_F(TaskServiceTest, CancelStopsOnlyAWaitingTask) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  Caller admin = As("admin", "care");
  for (const char* state : {"pending", "retrying"}) {
    const int64_t task = AddTask(id, "birthday-greeting", "care", state);
    auto cancelled = tasks_.Cancel(admin, std::to_string(task));
    ASSERT_TRUE(cancelled) << state << ": " << cancelled.error().ToString();
    EXPECT_EQ((*cancelled)["state"], "cancelled");
    EXPECT_EQ((*cancelled)["attempts"], 3);  // kept, unlike a retry
    EXPECT_EQ(Last().action, "task.cancelled");
    EXPECT_EQ(json::parse(Last().detail)["from"], state);
  }
  for (const char* state : {"sending", "delivered", "dead", "suppressed", "cancelled"}) {
    const int64_t task = AddTask(id, "birthday-greeting", "care", state);
    auto cancelled = tasks_.Cancel(admin, std::to_string(task));
    ASSERT_FALSE(cancelled) << state;
    EXPECT_EQ(cancelled.error().code(), Status::Code::kConflict);
    EXPECT_NE(cancelled.error().message().find("only pending or retrying"), std::string::npos);
    EXPECT_EQ(store_.GetTask(task).value()->state, state);
  }
}

TEST_F(TaskServiceTest, CancellingANoticeClearsItsPayload) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t notice = AddTask(id, std::string(store::kErasureNotice), "", "pending");
  ASSERT_TRUE(tasks_.Cancel(As("admin", "care"), std::to_string(notice)));
  EXPECT_TRUE(store_.GetTask(notice).value()->payload.empty());
}

TEST_F(TaskServiceTest, RetryAndCancelNeedTasksWriteAndAKnownTask) {
  const store::ProfileId id = Profile("c1", {{"name", "A"}});
  const int64_t task = AddTask(id, "birthday-greeting", "care", "pending");
  auto refused = tasks_.Cancel(As("care_agent", "care"), std::to_string(task));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Last().action, "request.refused");
  EXPECT_NE(Last().detail.find("tasks.write"), std::string::npos);
  EXPECT_EQ(store_.GetTask(task).value()->state, "pending");

  Caller admin = As("admin", "care");
  for (const char* id_text : {"", "12x", "999999"}) {
    EXPECT_EQ(tasks_.Retry(admin, id_text).error().code(), Status::Code::kNotFound) << id_text;
    EXPECT_EQ(tasks_.Cancel(admin, id_text).error().code(), Status::Code::kNotFound) << id_text;
  }
}

}  // namespace
}  // namespace portrait::daemon
