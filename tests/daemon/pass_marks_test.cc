// The marks of the base-wide passes on one node and among several (daemon/pass_marks.h,
// docs/DECISIONS.md 173): a store without partitions keeps only the base-wide mark, written as
// before; on a store with partitions, each partition's mark stands only until a single node
// begins a pass, and the base-wide mark only until a node of several does. On a PostgreSQL
// schema of the test binary's own server.
#include "daemon/pass_marks.h"

#include <gtest/gtest.h>

#include "store/postgres/postgres_store.h"
#include "tests/support/postgres_server.h"

namespace portrait::daemon {
namespace {

using store::HeldPartition;
using testing::PostgresServer;

Status Commit(store::Store& store, const store::Batch& batch) {
  auto done = store.Commit(batch);
  return done ? Status::Ok() : done.error();
}

TEST(PassMark, AStoreWithoutPartitionsKeepsTheBaseWideMarkAlone) {
  auto store = store::NewMemoryStore();
  const PassMark mark("timers.rules_fingerprint");
  store::Batch begin;
  ASSERT_TRUE(mark.BeginBaseWide(*store, begin).ok());
  EXPECT_TRUE(begin.meta.empty()) << "no epoch on a store without partitions";
  EXPECT_FALSE(mark.Done(*store, "fp-1").value());
  store::Batch done;
  mark.MarkBaseWide(done, "fp-1");
  EXPECT_EQ(done.meta, (std::map<std::string, std::string>{{"timers.rules_fingerprint", "fp-1"}}));
  ASSERT_TRUE(Commit(*store, done).ok());
  EXPECT_TRUE(mark.Done(*store, "fp-1").value());
  EXPECT_FALSE(mark.Done(*store, "fp-2").value());
}

class PassMarkOnPartitions : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    const PostgresServer::Databases dbs = server_->Fresh();
    store::PostgresOptions o;
    o.url = dbs.url;
    o.keystore_url = dbs.keystore_url;
    o.password = &server_->password();
    o.keystore_password = &server_->keystore_password();
    o.create = true;
    o.partitions = 4;
    o.readers = 1;
    auto opened = store::OpenPostgresStore(o);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  std::vector<int> PendingParts(const std::string& target) {
    auto pending = mark_.Pending(*store_, target, target, held_);
    EXPECT_TRUE(pending) << pending.error().ToString();
    std::vector<int> parts;
    for (const HeldPartition& p : pending ? *pending : std::vector<HeldPartition>()) {
      parts.push_back(p.part);
    }
    return parts;
  }

  Status MarkParts(const std::vector<int>& parts, const std::string& target) {
    store::Batch batch;
    for (int p : parts) {
      PORTRAIT_RETURN_IF_ERROR(mark_.MarkPartition(*store_, batch, p, target));
    }
    return Commit(*store_, batch);
  }

  PostgresServer* server_ = nullptr;
  std::unique_ptr<store::Store> store_;
  const PassMark mark_{"portrait.fingerprint"};
  // What a node of several holds (the tenures do not matter to the marks).
  const std::vector<HeldPartition> held_ = {{0, 1}, {1, 1}, {2, 1}, {3, 1}};
};

TEST_F(PassMarkOnPartitions, EachPartitionIsPendingUntilMarkedForTheTarget) {
  EXPECT_EQ(PendingParts("fp-1"), (std::vector<int>{0, 1, 2, 3}));
  ASSERT_TRUE(MarkParts({1, 3}, "fp-1").ok());
  EXPECT_EQ(PendingParts("fp-1"), (std::vector<int>{0, 2}));
  EXPECT_EQ(PendingParts("fp-2"), (std::vector<int>{0, 1, 2, 3})) << "marked for another target";
  EXPECT_EQ(store_->GetMeta("portrait.fingerprint/1").value(), "fp-1#0");
}

TEST_F(PassMarkOnPartitions, ABaseWideMarkForTheTargetLeavesNothingPending) {
  // A store one node passed (an upgrade to several nodes): nothing to pass again.
  store::Batch batch;
  mark_.MarkBaseWide(batch, "fp-1");
  ASSERT_TRUE(Commit(*store_, batch).ok());
  EXPECT_TRUE(PendingParts("fp-1").empty());
  EXPECT_EQ(PendingParts("fp-2").size(), 4u);
  // The base-wide form may name what the partitions' does not (the re-arm's, the rule files'
  // directories): it is compared with its own.
  auto pending = mark_.Pending(*store_, "fp-1", "shared-1", held_);
  ASSERT_TRUE(pending);
  EXPECT_TRUE(pending->empty());
}

TEST_F(PassMarkOnPartitions, ANodeOfSeveralBeginningAPassVoidsTheBaseWideMark) {
  store::Batch batch;
  mark_.MarkBaseWide(batch, "fp-1");
  ASSERT_TRUE(Commit(*store_, batch).ok());
  // Already the target: nothing to clear.
  store::Batch same;
  EXPECT_FALSE(mark_.BeginPartitions(*store_, "fp-1", same).value());
  EXPECT_TRUE(same.meta.empty());
  // Another target: one node started later must not take the base as passed for fp-1.
  store::Batch begin;
  ASSERT_TRUE(mark_.BeginPartitions(*store_, "fp-2", begin).value());
  ASSERT_TRUE(Commit(*store_, begin).ok());
  EXPECT_FALSE(mark_.Done(*store_, "fp-1").value());
  EXPECT_EQ(PendingParts("fp-1").size(), 4u);
}

TEST_F(PassMarkOnPartitions, ASingleNodeBeginningAPassVoidsEveryPartitionsMark) {
  ASSERT_TRUE(MarkParts({0, 1, 2, 3}, "fp-1").ok());
  ASSERT_TRUE(PendingParts("fp-1").empty());
  // One node begins a pass (for other rules, say, cut off or not): the partitions' marks for
  // fp-1 no longer stand, whatever the rules are when nodes of several run again.
  store::Batch begin;
  ASSERT_TRUE(mark_.BeginBaseWide(*store_, begin).ok());
  EXPECT_EQ(begin.meta.at("portrait.fingerprint/epoch"), "1");
  ASSERT_TRUE(Commit(*store_, begin).ok());
  EXPECT_EQ(PendingParts("fp-1"), (std::vector<int>{0, 1, 2, 3}));
  ASSERT_TRUE(MarkParts({2}, "fp-1").ok());
  EXPECT_EQ(store_->GetMeta("portrait.fingerprint/2").value(), "fp-1#1");
  EXPECT_EQ(PendingParts("fp-1"), (std::vector<int>{0, 1, 3}));
}

TEST(PassMark, StillHeldMeansTheSamePartitionInTheSameTenure) {
  const std::optional<std::vector<HeldPartition>> held = std::vector<HeldPartition>{{3, 7}, {5, 9}};
  EXPECT_TRUE(StillHeld(held, {3, 7}));
  EXPECT_FALSE(StillHeld(held, {3, 8})) << "taken anew since";
  EXPECT_FALSE(StillHeld(held, {4, 7})) << "not held";
  EXPECT_FALSE(StillHeld(std::nullopt, {3, 7}));
}

}  // namespace
}  // namespace portrait::daemon
