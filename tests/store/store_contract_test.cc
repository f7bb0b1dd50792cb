// The contract every Store backend keeps; runs against the memory and SQLCipher backends.
#include <algorithm>
#include <tuple>

#include "tests/store/store_contract_fixture.h"

namespace portrait::store {
namespace {

TYPED_TEST_SUITE(StoreContract, Backends);

TYPED_TEST(StoreContract, WritesAndReadsAProfileByIdAndKey) {
  auto w = this->NewProfile(7, "k7");
  w.row.timezone = "Europe/Berlin";
  w.set_fields["name"] = "sealed-name";
  ASSERT_TRUE(this->Write(w).ok());
  auto by_id = this->store_->GetProfile(7).value();
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->ext_key, "k7");
  EXPECT_EQ(by_id->timezone, "Europe/Berlin");
  EXPECT_EQ(by_id->external_id, "sealed-ext-7");
  auto by_key = this->store_->GetProfileByKey("k7").value();
  ASSERT_TRUE(by_key);
  EXPECT_EQ(by_key->id, 7);
  EXPECT_EQ(this->store_->GetFields(7).value().at("name"), "sealed-name");
  EXPECT_FALSE(this->store_->GetProfile(8).value());
  EXPECT_FALSE(this->store_->GetProfileByKey("k8").value());
  EXPECT_EQ(this->store_->CountProfiles().value(), 1);
}

TYPED_TEST(StoreContract, UpdateKeepsUnnamedFieldsAndRemovesNamedOnes) {
  auto w = this->NewProfile(1, "k1");
  w.set_fields = {{"a", "A"}, {"b", "B"}, {"c", "C"}};
  ASSERT_TRUE(this->Write(w).ok());
  ProfileWrite u;
  u.row = this->store_->GetProfile(1).value().value();
  u.row.lifecycle = "active";
  u.set_fields = {{"a", "A2"}};
  u.removed_fields = {"c"};
  ASSERT_TRUE(this->Write(u).ok());
  auto fields = this->store_->GetFields(1).value();
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"a", "A2"}, {"b", "B"}}));
  EXPECT_EQ(this->store_->GetProfile(1).value()->lifecycle, "active");
}

TYPED_TEST(StoreContract, ConflictingNewProfileWritesNothing) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "same")).ok());
  Batch b;
  b.profiles.push_back(this->NewProfile(2, "same"));
  b.events.push_back(this->Event("e1", 2, 5));
  auto r = this->store_->Commit(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Status::Code::kConflict);
  EXPECT_FALSE(this->store_->GetProfile(2).value());
  EXPECT_TRUE(this->store_->GetEvents(2).value().empty());
  auto again = this->Write(this->NewProfile(1, "other"));
  EXPECT_EQ(again.code(), Status::Code::kConflict);
}

// New ids are allocated above the mark, so it must survive the erasure of the profile that set
// it, and only a committed insert may raise it.
TYPED_TEST(StoreContract, TheProfileIdHighWaterMarkOutlivesErasure) {
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 0);
  ASSERT_TRUE(this->Write(this->NewProfile(5, "k5")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(3, "k3")).ok());
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 5);
  Batch erase;
  erase.erasures.push_back(5);
  ASSERT_TRUE(this->store_->Commit(erase));
  ASSERT_FALSE(this->store_->GetProfile(5).value());
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 5);
  EXPECT_FALSE(this->Write(this->NewProfile(9, "k3")).ok());  // the key is taken: no insert
  ProfileWrite update = this->NewProfile(3, "k3");
  update.is_new = false;
  ASSERT_TRUE(this->Write(update).ok());
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 5);
  ASSERT_TRUE(this->Write(this->NewProfile(8, "k8")).ok());
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 8);
  // A key stored for a profile whose commit never came holds its id too.
  ASSERT_TRUE(this->store_->PutDataKey(12, "wrapped").ok());
  EXPECT_EQ(this->store_->ProfileIdHighWater().value(), 12);
}

TYPED_TEST(StoreContract, UpdatingAMissingProfileIsNotFound) {
  ProfileWrite u;
  u.row.id = 99;
  u.row.ext_key = "k99";
  EXPECT_EQ(this->Write(u).code(), Status::Code::kNotFound);
  EXPECT_FALSE(this->store_->GetProfile(99).value());
}

TYPED_TEST(StoreContract, BlindIndexEntriesAreReplacedAndDropped) {
  auto a = this->NewProfile(5, "k5");
  a.blind["email"] = "d1";
  auto b = this->NewProfile(3, "k3");
  b.blind["email"] = "d1";
  ASSERT_TRUE(this->Write(a).ok());
  ASSERT_TRUE(this->Write(b).ok());
  EXPECT_EQ(this->store_->LookupBlind("email", "d1").value(), (std::vector<ProfileId>{3, 5}));
  EXPECT_TRUE(this->store_->LookupBlind("phone", "d1").value().empty());
  ProfileWrite u;
  u.row = this->store_->GetProfile(5).value().value();
  u.blind["email"] = "d2";
  ASSERT_TRUE(this->Write(u).ok());
  EXPECT_EQ(this->store_->LookupBlind("email", "d1").value(), (std::vector<ProfileId>{3}));
  EXPECT_EQ(this->store_->LookupBlind("email", "d2").value(), (std::vector<ProfileId>{5}));
  u.blind["email"] = std::nullopt;
  ASSERT_TRUE(this->Write(u).ok());
  EXPECT_TRUE(this->store_->LookupBlind("email", "d2").value().empty());
}

TYPED_TEST(StoreContract, RepeatedEventKeysAreCountedAsDuplicates) {
  EXPECT_EQ(this->store_->StoredEvents({"e1"}).value(), std::vector<bool>{false});
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  Batch b;
  b.events = {this->Event("e2", 1, 20), this->Event("e1", 1, 10), this->Event("e1", 1, 30)};
  auto r = this->store_->Commit(b).value();
  EXPECT_EQ(r.events_stored, 2);
  EXPECT_EQ(r.duplicates, 1);
  auto again = this->store_->Commit(b).value();
  EXPECT_EQ(again.events_stored, 0);
  EXPECT_EQ(again.duplicates, 3);
  EXPECT_EQ(this->store_->StoredEvents({"e1", "e3", "e2", "e1"}).value(),
            (std::vector<bool>{true, false, true, true}));
  EXPECT_TRUE(this->store_->StoredEvents({}).value().empty());
  auto events = this->store_->GetEvents(1).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "e1");  // oldest first
  EXPECT_EQ(events[0].time_us, 10);
  EXPECT_EQ(events[1].key, "e2");
}

TYPED_TEST(StoreContract, ErasureRemovesEveryRowOfTheProfileOnly) {
  auto a = this->NewProfile(1, "k1");
  a.set_fields["name"] = "N";
  a.blind["email"] = "d";
  ASSERT_TRUE(this->Write(a).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  Batch events;
  events.events = {this->Event("e1", 1, 1), this->Event("e2", 2, 1)};
  ASSERT_TRUE(this->store_->Commit(events));
  Batch erase;
  erase.erasures.push_back(1);
  ASSERT_TRUE(this->store_->Commit(erase));
  EXPECT_FALSE(this->store_->GetProfile(1).value());
  EXPECT_FALSE(this->store_->GetProfileByKey("k1").value());
  EXPECT_TRUE(this->store_->GetFields(1).value().empty());
  EXPECT_TRUE(this->store_->LookupBlind("email", "d").value().empty());
  EXPECT_TRUE(this->store_->GetEvents(1).value().empty());
  EXPECT_EQ(this->store_->GetEvents(2).value().size(), 1u);
  EXPECT_EQ(this->store_->CountProfiles().value(), 1);
}

TYPED_TEST(StoreContract, MetaValuesAreSetAndReplaced) {
  EXPECT_FALSE(this->store_->GetMeta("rules").value());
  Batch b;
  b.meta["rules"] = "abc";
  ASSERT_TRUE(this->store_->Commit(b));
  b.meta["rules"] = "def";
  ASSERT_TRUE(this->store_->Commit(b));
  EXPECT_EQ(this->store_->GetMeta("rules").value(), "def");
}

TYPED_TEST(StoreContract, ProfileIdsArePagedInOrder) {
  for (ProfileId id : {30, 10, 20}) {
    ASSERT_TRUE(this->Write(this->NewProfile(id, "k" + std::to_string(id))).ok());
  }
  EXPECT_EQ(this->store_->ProfileIds(0, 2).value(), (std::vector<ProfileId>{10, 20}));
  EXPECT_EQ(this->store_->ProfileIds(20, 2).value(), (std::vector<ProfileId>{30}));
  EXPECT_TRUE(this->store_->ProfileIds(30, 2).value().empty());
}

TYPED_TEST(StoreContract, TimersAreSetReplacedClearedAndScannedByDueTime) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  Batch b;
  b.timers = {{1, "birthday", 500}, {2, "birthday", 300}, {1, "cart", 900}};
  ASSERT_TRUE(this->store_->Commit(b));
  Batch replace;
  replace.timers = {{1, "birthday", 100}};
  replace.cleared_timers = {{1, "cart"}};
  ASSERT_TRUE(this->store_->Commit(replace));

  auto due = this->store_->DueTimers(400, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].profile_id, 1);
  EXPECT_EQ((*due)[0].due_us, 100);
  EXPECT_EQ((*due)[1].profile_id, 2);
  EXPECT_EQ(this->store_->DueTimers(400, 1)->size(), 1u);
  EXPECT_EQ(*this->store_->CountDueTimers(1000), 2);
  EXPECT_EQ(this->store_->GetTimers(1)->size(), 1u);
}

TYPED_TEST(StoreContract, TasksAreDedupedCountedAndErasedUnlessFinished) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  auto task = [](std::string dedupe, std::string state) {
    TaskRow t;
    t.dedupe = std::move(dedupe);
    t.profile_id = 1;
    t.trigger = "birthday";
    t.purpose = "care";
    t.channel = "sms";
    t.sink = "crm";
    t.state = std::move(state);
    t.payload = "sealed";
    return t;
  };
  Batch b;
  b.tasks = {task("d1", "pending"), task("d2", "delivered"), task("d1", "pending")};
  auto r = this->store_->Commit(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tasks_created, 2);
  EXPECT_TRUE(*this->store_->HasTask("d2"));
  EXPECT_FALSE(*this->store_->HasTask("d3"));
  auto tasks = this->store_->GetTasks(1);
  ASSERT_TRUE(tasks);
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_LT((*tasks)[0].id, (*tasks)[1].id);
  EXPECT_EQ((*tasks)[0].payload, "sealed");
  auto by_state = this->store_->CountTasksByState();
  EXPECT_EQ((*by_state)["pending"], 1);
  EXPECT_EQ((*by_state)["delivered"], 1);

  Batch erase;
  erase.erasures = {1};
  ASSERT_TRUE(this->store_->Commit(erase));
  tasks = this->store_->GetTasks(1);
  ASSERT_EQ(tasks->size(), 1u);  // the delivered one stays, as a record of what was sent
  EXPECT_EQ((*tasks)[0].state, "delivered");
}

TYPED_TEST(StoreContract, TasksAreClaimedByDueTimeUpdatedListedAndCounted) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  auto task = [](std::string dedupe, ProfileId profile, std::string state, int64_t due) {
    TaskRow t;
    t.dedupe = std::move(dedupe);
    t.profile_id = profile;
    t.trigger = profile == 1 ? "birthday" : "cart";
    t.purpose = profile == 1 ? "care" : "marketing";
    t.channel = "sms";
    t.sink = "crm";
    t.state = std::move(state);
    t.due_us = due;
    t.created_us = t.updated_us = due;
    t.payload = "sealed";
    return t;
  };
  Batch b;
  b.tasks = {task("a", 1, "pending", 300), task("b", 2, "retrying", 100),
             task("c", 2, "sending", 50), task("d", 1, "pending", 900),
             task("e", 2, "delivered", 200)};
  ASSERT_TRUE(this->store_->Commit(b));
  auto due = this->store_->DueTasks("crm", 500, 10).value();
  ASSERT_EQ(due.size(), 2u);  // neither the one sending nor the one due later
  EXPECT_EQ(due[0].dedupe, "b");
  EXPECT_EQ(due[1].dedupe, "a");
  EXPECT_EQ(this->store_->DueTasks("crm", 500, 1).value().size(), 1u);
  EXPECT_TRUE(this->store_->DueTasks("care-queue", 500, 10).value().empty());

  Batch u;
  u.task_updates = {{due[0].id, "sending", "attempt 2", 100, 2, 440},  // applied in order
                    {due[0].id, "delivered", "HTTP 200", 100, 2, 450},
                    {9999, "dead", "gone", 0, 1, 450}};  // no such task: skipped
  ASSERT_TRUE(this->store_->Commit(u));
  const TaskRow delivered = this->store_->GetTask(due[0].id).value().value();
  EXPECT_EQ(delivered.state, "delivered");
  EXPECT_EQ(delivered.reason, "HTTP 200");
  EXPECT_EQ(delivered.attempts, 2);
  EXPECT_FALSE(this->store_->GetTask(9999).value());
  EXPECT_EQ(this->store_->CountDelivered(2, "marketing", 0).value(), 2);
  EXPECT_EQ(this->store_->CountDelivered(2, "marketing", 300).value(), 1);
  EXPECT_EQ(this->store_->CountDelivered(2, "care", 0).value(), 0);

  TaskFilter f;
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 5u);
  f.state = "pending";
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 2u);
  f = TaskFilter{};
  f.profile_id = 2;
  f.trigger = "cart";
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 3u);
  f.limit = 2;
  auto page = this->store_->ListTasks(f).value();
  ASSERT_EQ(page.size(), 2u);
  f.after_id = page[1].id;
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 1u);
  f = TaskFilter{};
  f.since_us = 250;
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 2u);
  f = TaskFilter{};
  f.purpose = "care";
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 2u);
  f.purpose = "marketing";
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 3u);
  Batch notice;  // an erasure notice belongs to no purpose
  notice.tasks = {task("n", 1, "pending", 10)};
  notice.tasks[0].purpose = "";
  ASSERT_TRUE(this->store_->Commit(notice));
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 4u);
  f.include_notices = false;
  EXPECT_EQ(this->store_->ListTasks(f).value().size(), 3u);
}

// The earliest waiting tasks of the sink, in due order whichever state they wait in, however
// many settled or sending ones lie between them, of several profiles (and partitions).
TYPED_TEST(StoreContract, DueTasksAreTheEarliestWaitingOnesAmongSettledOnes) {
  constexpr int kProfiles = 6;
  for (ProfileId id = 1; id <= kProfiles; ++id) {
    ASSERT_TRUE(this->Write(this->NewProfile(id, "k" + std::to_string(id))).ok());
  }
  const std::vector<std::string> states = {"delivered", "pending",    "dead",     "sending",
                                           "retrying",  "suppressed", "cancelled"};
  Batch b;
  std::vector<std::pair<int64_t, std::string>> waiting;  // (due, dedupe) of crm's due by 5000
  for (int i = 0; i < 150; ++i) {
    TaskRow t;
    t.dedupe = "t" + std::to_string(i);
    t.profile_id = 1 + i % kProfiles;
    t.trigger = "cart";
    t.purpose = "marketing";
    t.channel = "sms";
    t.sink = i % 11 == 0 ? "care-queue" : "crm";
    t.state = states[i % states.size()];
    t.due_us = 6000 - 41 * i;  // later tasks first, and past the window for the first few
    t.created_us = t.updated_us = 1;
    t.payload = "sealed";
    if (t.sink == "crm" && (t.state == "pending" || t.state == "retrying") && t.due_us <= 5000) {
      waiting.emplace_back(t.due_us, t.dedupe);
    }
    b.tasks.push_back(t);
  }
  ASSERT_TRUE(this->store_->Commit(b));
  std::sort(waiting.begin(), waiting.end());
  ASSERT_GT(waiting.size(), 20u);
  for (size_t limit : {size_t{1}, size_t{7}, waiting.size() + 5}) {
    auto due = this->store_->DueTasks("crm", 5000, static_cast<int>(limit)).value();
    ASSERT_EQ(due.size(), std::min(limit, waiting.size())) << limit;
    for (size_t k = 0; k < due.size(); ++k) {
      EXPECT_EQ(due[k].dedupe, waiting[k].second) << "limit " << limit << ", at " << k;
    }
  }
}
TYPED_TEST(StoreContract, DataKeysArePutOnceReadAndDestroyed) {
  EXPECT_FALSE(this->store_->GetDataKey(1).value());
  ASSERT_TRUE(this->store_->PutDataKey(1, "wrapped1").ok());
  EXPECT_EQ(this->store_->PutDataKey(1, "again").code(), Status::Code::kConflict);
  EXPECT_EQ(this->store_->GetDataKey(1).value().value(), "wrapped1");
  ASSERT_TRUE(this->store_->DestroyDataKey(1).ok());
  EXPECT_FALSE(this->store_->GetDataKey(1).value());
  EXPECT_TRUE(this->store_->DestroyDataKey(1).ok());  // idempotent
}

TYPED_TEST(StoreContract, DataKeysAreReadInIdRanges) {
  ASSERT_TRUE(this->store_->PutDataKeys({{30, "w30"}, {10, "w10"}, {20, "w20"}, {40, "w40"}}).ok());
  ASSERT_TRUE(this->store_->DestroyDataKey(30).ok());
  using Keys = std::vector<std::pair<ProfileId, std::string>>;
  EXPECT_EQ(this->store_->DataKeysBetween(10, 30).value(), (Keys{{10, "w10"}, {20, "w20"}}));
  EXPECT_EQ(this->store_->DataKeysBetween(11, 40).value(), (Keys{{20, "w20"}, {40, "w40"}}));
  EXPECT_TRUE(this->store_->DataKeysBetween(41, 100).value().empty());
}

TYPED_TEST(StoreContract, DataKeysPutInOneBatchAreAllOrNone) {
  ASSERT_TRUE(this->store_->PutDataKeys({{1, "w1"}, {2, "w2"}, {3, "w3"}}).ok());
  EXPECT_EQ(this->store_->GetDataKey(2).value().value(), "w2");
  EXPECT_EQ(this->store_->GetDataKey(3).value().value(), "w3");
  // One id already has a key: nothing of the batch is stored.
  EXPECT_EQ(this->store_->PutDataKeys({{4, "w4"}, {2, "again"}}).code(), Status::Code::kConflict);
  EXPECT_FALSE(this->store_->GetDataKey(4).value());
  EXPECT_EQ(this->store_->GetDataKey(2).value().value(), "w2");
  // An id twice in one batch: nothing stored either.
  EXPECT_EQ(this->store_->PutDataKeys({{5, "a"}, {5, "b"}}).code(), Status::Code::kConflict);
  EXPECT_FALSE(this->store_->GetDataKey(5).value());
  EXPECT_TRUE(this->store_->PutDataKeys({}).ok());
}

TYPED_TEST(StoreContract, TaskUpdatesMakeOnlyTheChangesTheLifecycleAllows) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  for (TaskState from : kTaskStates) {
    for (TaskState to : kTaskStates) {
      const std::string pair =
          std::string(TaskStateName(from)) + " -> " + std::string(TaskStateName(to));
      TaskRow t;
      t.dedupe = pair;
      t.profile_id = 1;
      t.trigger = "birthday";
      t.sink = "crm";
      t.state = TaskStateName(from);
      Batch add;
      add.tasks = {t};
      ASSERT_TRUE(this->store_->Commit(add)) << pair;
      const int64_t id = this->store_->ListTasks(TaskFilter{}).value().back().id;
      Batch move;
      move.task_updates = {{id, std::string(TaskStateName(to)), "moved", 5, 1, 7}};
      move.meta["moved"] = pair;  // a forbidden change must leave the whole batch undone
      auto moved = this->store_->Commit(move);
      const TaskRow after = this->store_->GetTask(id).value().value();
      if (CanMove(from, to)) {
        ASSERT_TRUE(moved) << pair << ": " << moved.error().ToString();
        EXPECT_EQ(after.state, TaskStateName(to)) << pair;
        EXPECT_EQ(after.attempts, 1) << pair;
        EXPECT_EQ(this->store_->GetMeta("moved").value(), pair);
      } else {
        ASSERT_FALSE(moved) << pair;
        EXPECT_EQ(moved.error().code(), Status::Code::kConflict) << pair;
        EXPECT_EQ(after.state, TaskStateName(from)) << pair;
        EXPECT_EQ(after.attempts, 0) << pair;
        EXPECT_NE(this->store_->GetMeta("moved").value(), pair);
      }
    }
  }
}

TYPED_TEST(StoreContract, ForbiddenTaskChangesAreRefusedNamingBothStates) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  const std::pair<std::string, std::string> forbidden[] = {
      {"delivered", "pending"},  {"dead", "sending"},      {"cancelled", "delivered"},
      {"suppressed", "sending"}, {"pending", "delivered"}, {"retrying", "dead"}};
  for (const auto& [from, to] : forbidden) {
    TaskRow t;
    t.dedupe = from + to;
    t.profile_id = 1;
    t.state = from;
    Batch add;
    add.tasks = {t};
    ASSERT_TRUE(this->store_->Commit(add));
    const int64_t id = this->store_->ListTasks(TaskFilter{}).value().back().id;
    Batch move;
    move.task_updates = {{id, to, "", 0, 0, 1}};
    auto moved = this->store_->Commit(move);
    ASSERT_FALSE(moved) << from << " -> " << to;
    EXPECT_EQ(moved.error().code(), Status::Code::kConflict);
    EXPECT_NE(moved.error().ToString().find("from " + from + " to " + to), std::string::npos)
        << moved.error().ToString();
    EXPECT_EQ(this->store_->GetTask(id).value()->state, from);
  }
}

TYPED_TEST(StoreContract, TaskStatesThatNameNoStateAreRefused) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  TaskRow t;
  t.dedupe = "d";
  t.profile_id = 1;
  t.state = "queued";
  Batch add;
  add.tasks = {t};
  auto added = this->store_->Commit(add);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(this->store_->HasTask("d").value());

  add.tasks[0].state = "pending";
  ASSERT_TRUE(this->store_->Commit(add));
  const int64_t id = this->store_->ListTasks(TaskFilter{}).value().back().id;
  for (std::string state : {"", "Pending", "done"}) {
    Batch move;
    move.task_updates = {{id, state, "", 0, 0, 1}};
    auto moved = this->store_->Commit(move);
    ASSERT_FALSE(moved) << state;
    EXPECT_EQ(moved.error().code(), Status::Code::kInvalidArgument) << state;
  }
  EXPECT_EQ(this->store_->GetTask(id).value()->state, "pending");
}

// Aliases (issue 13): another external id's digest leads to a profile.
TYPED_TEST(StoreContract, AnAliasLeadsToItsProfile) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  Batch b;
  b.aliases.push_back(AliasRow{"alias-1", 1, 0, 5});
  ASSERT_TRUE(this->store_->Commit(b));
  auto found = this->store_->GetProfileByKey("alias-1").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, 1);
  EXPECT_EQ(found->ext_key, "k1");
  auto alias = this->store_->GetAlias("alias-1").value();
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->profile_id, 1);
  EXPECT_EQ(alias->created_us, 5);
  EXPECT_FALSE(this->store_->GetAlias("k1").value());
  ASSERT_EQ(this->store_->GetAliases(1).value().size(), 1u);
  EXPECT_TRUE(this->store_->GetAliases(2).value().empty());
  // The same alias again is kept as it is.
  EXPECT_TRUE(this->store_->Commit(b));
  EXPECT_EQ(this->store_->GetAliases(1).value().size(), 1u);
}

TYPED_TEST(StoreContract, AnAliasIsNeverAProfilesOwnKey) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  Batch own;
  own.aliases.push_back(AliasRow{"k2", 1, 0, 5});
  auto refused = this->store_->Commit(own);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kConflict);
  Batch alias;
  alias.aliases.push_back(AliasRow{"alias", 1, 0, 5});
  ASSERT_TRUE(this->store_->Commit(alias));
  // Neither a new profile over the alias, nor the alias for another profile.
  Status taken = this->Write(this->NewProfile(3, "alias"));
  EXPECT_EQ(taken.code(), Status::Code::kConflict);
  EXPECT_FALSE(this->store_->GetProfile(3).value());
  Batch other;
  other.aliases.push_back(AliasRow{"alias", 2, 0, 5});
  auto moved = this->store_->Commit(other);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code(), Status::Code::kConflict);
  Batch nowhere;
  nowhere.aliases.push_back(AliasRow{"alias-9", 9, 0, 5});
  auto missing = this->store_->Commit(nowhere);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Status::Code::kNotFound);
  EXPECT_EQ(this->store_->GetProfileByKey("alias").value()->id, 1);
}

TYPED_TEST(StoreContract, ErasingAProfileRemovesItsAliases) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  Batch b;
  b.aliases.push_back(AliasRow{"alias-1", 1, 0, 5});
  ASSERT_TRUE(this->store_->Commit(b));
  Batch erase;
  erase.erasures.push_back(1);
  ASSERT_TRUE(this->store_->Commit(erase));
  EXPECT_FALSE(this->store_->GetProfileByKey("alias-1").value());
  EXPECT_FALSE(this->store_->GetAlias("alias-1").value());
  // The digest is free again.
  EXPECT_TRUE(this->Write(this->NewProfile(2, "alias-1")).ok());
}

// A merge's batch: the source's events move, its aliases follow, its own digest becomes an
// alias of the target in the transaction that erases it.
TYPED_TEST(StoreContract, AMergeMovesEventsAndAliasesInOneBatch) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  Batch setup;
  setup.events = {this->Event("e1", 2, 10), this->Event("e2", 1, 20)};
  setup.aliases.push_back(AliasRow{"old-2", 2, 0, 5});
  ASSERT_TRUE(this->store_->Commit(setup));
  EXPECT_TRUE(this->store_->GetMergedIds().value().empty());  // an alias that merged nothing
  Batch merge;
  merge.moved_events.push_back(EventRow{"e1", 1, "", 0, "resealed"});
  merge.moved_aliases.emplace_back(2, 1);
  merge.erasures.push_back(2);
  merge.aliases.push_back(AliasRow{"k2", 1, 2, 6});
  ASSERT_TRUE(this->store_->Commit(merge));
  auto events = this->store_->GetEvents(1).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "e1");
  EXPECT_EQ(events[0].type, "order.placed");
  EXPECT_EQ(events[0].time_us, 10);
  EXPECT_EQ(events[0].data, "resealed");
  EXPECT_TRUE(this->store_->GetEvents(2).value().empty());
  EXPECT_FALSE(this->store_->GetProfile(2).value());
  EXPECT_EQ(this->store_->GetProfileByKey("k2").value()->id, 1);
  EXPECT_EQ(this->store_->GetProfileByKey("old-2").value()->id, 1);
  EXPECT_EQ(this->store_->GetAlias("k2").value()->merged_id, 2);
  EXPECT_EQ(this->store_->GetAliases(1).value().size(), 2u);
  EXPECT_EQ(this->store_->GetMergedIds().value(), (std::vector<ProfileId>{2}));
  // A moved event that is not stored fails the whole batch.
  Batch bad;
  bad.moved_events.push_back(EventRow{"nope", 1, "", 0, "x"});
  bad.aliases.push_back(AliasRow{"alias-x", 1, 0, 7});
  auto refused = this->store_->Commit(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kNotFound);
  EXPECT_FALSE(this->store_->GetAlias("alias-x").value());
}

}  // namespace
}  // namespace portrait::store

namespace portrait::store {
namespace {

ConsentRow Record(ProfileId id, std::string purpose, std::string scope, std::string channel,
                  std::string status, int64_t time_us, int64_t expires_us = 0) {
  ConsentRow c;
  c.profile_id = id;
  c.purpose = std::move(purpose);
  c.scope = std::move(scope);
  c.channel = std::move(channel);
  c.status = std::move(status);
  c.time_us = time_us;
  c.expires_us = expires_us;
  return c;
}

TYPED_TEST(StoreContract, ReadsTheLedgersOfManyProfilesAtOnceInTheOrderAsked) {
  Batch b;
  b.consents = {Record(1, "care", "processing", "any", "granted", 10),
                Record(3, "marketing", "processing", "sms", "granted", 10),
                Record(1, "care", "processing", "any", "objected", 20),
                Record(3, "marketing", "processing", "sms", "withdrawn", 30)};
  ASSERT_TRUE(this->store_->Commit(b));
  const std::vector<ProfileId> ids = {3, 2, 1, 3};  // 2: no record; 3 asked for twice
  auto ledgers = this->store_->GetConsentsOf(ids);
  ASSERT_TRUE(ledgers) << ledgers.error().ToString();
  ASSERT_EQ(ledgers->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto one = this->store_->GetConsents(ids[i]);
    ASSERT_TRUE(one);
    EXPECT_EQ((*ledgers)[i], *one) << "profile " << ids[i];
  }
  ASSERT_EQ((*ledgers)[0].size(), 2u);
  EXPECT_EQ((*ledgers)[0][1].status, "withdrawn");  // in id order
  EXPECT_TRUE((*ledgers)[1].empty());
  EXPECT_EQ((*ledgers)[2][1].status, "objected");
  EXPECT_TRUE(this->store_->GetConsentsOf(std::vector<ProfileId>{}).value().empty());
}

TYPED_TEST(StoreContract, CountsEventsStagesAndTheConsentRecordsInForce) {
  auto active = this->NewProfile(1, "k1");
  active.row.lifecycle = "active";
  ASSERT_TRUE(this->Write(active).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());  // not evaluated yet
  auto also_active = this->NewProfile(3, "k3");
  also_active.row.lifecycle = "active";
  ASSERT_TRUE(this->Write(also_active).ok());
  Batch b;
  b.events = {this->Event("e1", 1, 5), this->Event("e2", 1, 6), this->Event("e3", 3, 7)};
  b.consents = {
      Record(1, "marketing", "processing", "sms", "granted", 10),
      Record(1, "marketing", "processing", "sms", "withdrawn", 20),      // replaces it
      Record(1, "marketing", "processing", "email", "granted", 10, 50),  // expired by 100
      Record(2, "marketing", "processing", "any", "granted", 10),
      Record(2, "marketing", "processing", "any", "objected", 200),  // not yet made
      Record(9, "marketing", "processing", "any", "granted", 10),    // no such profile
      Record(3, "service", "sensitive", "any", "granted", 10),
      Record(3, "care", "processing", "any", "granted", 30),
      Record(3, "care", "processing", "any", "objected", 30),  // same time, higher id: in force
  };
  ASSERT_TRUE(this->store_->Commit(b));
  auto counts = this->store_->Counts(100);
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ(counts->events, 3);
  EXPECT_EQ(counts->lifecycle, (std::map<std::string, int64_t>{{"", 1}, {"active", 2}}));
  EXPECT_EQ(counts->consents, (std::vector<ConsentCount>{
                                  {"care", "processing", "objected", 1},
                                  {"marketing", "processing", "expired", 1},
                                  {"marketing", "processing", "granted", 1},
                                  {"marketing", "processing", "withdrawn", 1},
                                  {"service", "sensitive", "granted", 1},
                              }));
  Batch erase;
  erase.erasures = {3};
  ASSERT_TRUE(this->store_->Commit(erase));
  counts = this->store_->Counts(100);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->events, 2);
  EXPECT_EQ(counts->lifecycle, (std::map<std::string, int64_t>{{"", 1}, {"active", 1}}));
  EXPECT_EQ(counts->consents.size(), 3u);  // the erased profile's ledger is kept, not counted
}

TYPED_TEST(StoreContract, CountsByHourWhatWasMadeInEachHourOfTheWindow) {
  constexpr int64_t kHour = int64_t{3600} * 1'000'000;
  const int64_t from = 100 * kHour;
  auto made = [&](ProfileId id, int64_t created_us) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.row.created_us = w.row.updated_us = created_us;
    return this->Write(std::move(w));
  };
  ASSERT_TRUE(made(1, from - 1).ok());          // before the window
  ASSERT_TRUE(made(2, from).ok());              // its first hour
  ASSERT_TRUE(made(3, from + 2 * kHour).ok());  // its third hour
  ASSERT_TRUE(made(4, from + 3 * kHour).ok());  // after it
  Batch b;
  b.events = {this->Event("e1", 2, from + 10), this->Event("e2", 2, from + kHour - 1),
              this->Event("e3", 3, from + kHour), this->Event("e4", 3, from + 3 * kHour)};
  // Events of other types count the same (the SQLCipher backend counts type by type).
  for (auto [key, type, time] :
       {std::tuple{"e5", "cart.updated", from + kHour + 1}, std::tuple{"e6", "a.first", from - 1},
        std::tuple{"e7", "z.last", from + 2 * kHour}}) {
    EventRow e = this->Event(key, 3, time);
    e.type = type;
    b.events.push_back(e);
  }
  TaskRow t;
  t.dedupe = "d1";
  t.profile_id = 2;
  t.trigger = "birthday";
  t.purpose = "care";
  t.channel = "sms";
  t.sink = "crm";
  t.state = "pending";
  t.created_us = t.updated_us = from + 2 * kHour + 5;
  b.tasks = {t};
  ASSERT_TRUE(this->store_->Commit(b));
  auto hours = this->store_->CountByHour(from, 3);
  ASSERT_TRUE(hours) << hours.error().ToString();
  ASSERT_EQ(hours->size(), 3u);
  const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>> want = {
      {from, 1, 2, 0}, {from + kHour, 0, 2, 0}, {from + 2 * kHour, 1, 1, 1}};
  for (size_t i = 0; i < want.size(); ++i) {
    const HourCounts& h = (*hours)[i];
    EXPECT_EQ(std::make_tuple(h.hour_us, h.profiles, h.events, h.tasks), want[i]) << "hour " << i;
  }
}

}  // namespace
}  // namespace portrait::store
