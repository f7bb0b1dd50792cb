// Partition leases of several nodes on one PostgreSQL (store/postgres/lease_keeper.h): fair
// shares, never two holders, a dead node's partitions taken only after its own deadline passed,
// a stopped node's given back at once. On the test binary's own server; the leases are real
// ones of a second or two, waited on by condition, never by a fixed sleep.
#include "store/postgres/lease_keeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "base/clock.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"
#include "store/profile_ids.h"
#include "tests/support/postgres_server.h"

namespace portrait::store {
namespace {

using namespace std::chrono_literals;
using testing::PostgresServer;

constexpr int kPartitions = 16;

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
    PostgresOptions o = Options();
    o.create = true;
    o.partitions = kPartitions;
    auto store = OpenPostgresStore(o);
    ASSERT_TRUE(store) << store.error().ToString();
  }

  // The test's databases, one reader.
  PostgresOptions Options() const {
    PostgresOptions o;
    o.url = dbs_.url;
    o.keystore_url = dbs_.keystore_url;
    o.password = &server_->password();
    o.keystore_password = &server_->keystore_password();
    o.readers = 1;
    return o;
  }

  std::unique_ptr<LeaseKeeper> Keeper(const std::string& node,
                                      std::chrono::milliseconds lease = 10s) {
    LeaseOptions o{dbs_.url, &server_->password(), node, "http://" + node + ":8080", lease};
    auto keeper = LeaseKeeper::Open(o);
    EXPECT_TRUE(keeper) << keeper.error().ToString();
    return keeper ? std::move(*keeper) : nullptr;
  }

  static std::vector<int> Round(LeaseKeeper& k) {
    auto held = k.Round();
    EXPECT_TRUE(held) << held.error().ToString();
    return held ? *held : std::vector<int>();
  }

  // No partition is held (by Holds) by two keepers at once.
  static void ExpectNoPartitionHeldTwice(const std::vector<LeaseKeeper*>& keepers) {
    for (int p = 0; p < kPartitions; ++p) {
      int holders = 0;
      for (LeaseKeeper* k : keepers) {
        holders += k->Holds(p) ? 1 : 0;
      }
      EXPECT_LE(holders, 1) << "partition " << p;
    }
  }

  pg::Connection Main() const {
    return pg::Connection::Open(dbs_.url, &server_->password()).value();
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
};

TEST_F(LeaseKeeperTest, OneNodeTakesEveryPartitionAndIsNamedTheirHolder) {
  auto a = Keeper("node-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->partitions(), kPartitions);
  EXPECT_FALSE(a->Holds(0));
  EXPECT_EQ(Round(*a).size(), static_cast<size_t>(kPartitions));
  EXPECT_TRUE(a->Holds(0));
  EXPECT_TRUE(a->Holds(kPartitions - 1));
  EXPECT_FALSE(a->Holds(kPartitions));
  EXPECT_FALSE(a->Holds(-1));
  auto holder = a->HolderOf(5);
  ASSERT_TRUE(holder) << holder.error().ToString();
  ASSERT_TRUE(holder->has_value());
  EXPECT_EQ((*holder)->node, "node-a");
  EXPECT_EQ((*holder)->address, "http://node-a:8080");
}

// A holder read is given again, without reading the table, for a quarter lease (each 421 asks
// it), and read afresh after this node's next round.
TEST_F(LeaseKeeperTest, HolderOfIsKeptAQuarterLeaseOrUntilTheNextRound) {
  // A minute's lease: 15 s of the same answer, far more than the few calls below take.
  auto a = Keeper("node-a", 60s);
  auto b = Keeper("node-b", 60s);
  Round(*a);
  auto before = b->HolderOf(5);
  ASSERT_TRUE(before && before->has_value());
  EXPECT_EQ((*before)->node, "node-a");
  ASSERT_TRUE(a->ReleaseAll().ok());
  auto kept = b->HolderOf(5);
  ASSERT_TRUE(kept && kept->has_value());
  EXPECT_EQ((*kept)->node, "node-a") << "read again within a quarter lease";
  EXPECT_EQ(Round(*b).size(), static_cast<size_t>(kPartitions));  // the only live node
  auto after = b->HolderOf(5);
  ASSERT_TRUE(after && after->has_value());
  EXPECT_EQ((*after)->node, "node-b") << "a round forgets what was read before it";
}

TEST_F(LeaseKeeperTest, NodesThatJoinGetAFairShareAndNoPartitionHasTwoHolders) {
  auto a = Keeper("node-a");
  auto b = Keeper("node-b");
  auto c = Keeper("node-c");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(Round(*a).size(), static_cast<size_t>(kPartitions));
  std::vector<LeaseKeeper*> all = {a.get(), b.get(), c.get()};
  // Rounds in turn until the shares settle: 16 over 3 live nodes is at most 6 each.
  bool settled = false;
  for (int round = 0; round < 10 && !settled; ++round) {
    for (LeaseKeeper* k : all) {
      Round(*k);
      ExpectNoPartitionHeldTwice(all);
    }
    settled = a->HeldCount() + b->HeldCount() + c->HeldCount() == kPartitions &&
              a->HeldCount() <= 6 && b->HeldCount() <= 6 && c->HeldCount() <= 6;
  }
  EXPECT_TRUE(settled) << a->HeldCount() << " " << b->HeldCount() << " " << c->HeldCount();
  EXPECT_GE(c->HeldCount(), 4);
  // The table agrees with each node's own view.
  for (int p = 0; p < kPartitions; ++p) {
    auto holder = a->HolderOf(p);
    ASSERT_TRUE(holder && holder->has_value()) << p;
    LeaseKeeper* owner = (*holder)->node == "node-a"   ? a.get()
                         : (*holder)->node == "node-b" ? b.get()
                                                       : c.get();
    EXPECT_TRUE(owner->Holds(p)) << p;
  }
}

TEST_F(LeaseKeeperTest, ADeadNodesPartitionsMoveOnlyOnceItsOwnDeadlinePassed) {
  const auto lease = 1500ms;
  auto a = Keeper("node-a", lease);
  auto b = Keeper("node-b", lease);
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 4; ++round) {
    Round(*a);
    Round(*b);
  }
  ASSERT_EQ(a->HeldCount(), kPartitions / 2);
  ASSERT_EQ(b->HeldCount(), kPartitions / 2);
  std::set<int> of_a;
  for (int p = 0; p < kPartitions; ++p) {
    if (a->Holds(p)) {
      of_a.insert(p);
    }
  }
  // node-a stops renewing (as if killed). node-b keeps its rounds, a third of a lease apart.
  const auto killed = std::chrono::steady_clock::now();
  const auto give_up = killed + 20 * lease;
  while (b->HeldCount() < kPartitions && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(lease / 3);  // the round cadence, not a synchronisation
    Round(*b);
    for (int p : of_a) {
      EXPECT_FALSE(a->Holds(p) && b->Holds(p)) << "partition " << p << " held twice";
    }
  }
  EXPECT_EQ(b->HeldCount(), kPartitions);
  EXPECT_EQ(a->HeldCount(), 0);
  std::printf("partitions of a dead node served again after %lld ms (lease %lld ms)\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed)
                                         .count()),
              static_cast<long long>(lease.count()));
}

TEST_F(LeaseKeeperTest, AStoppedNodeGivesItsPartitionsBackAtOnce) {
  auto a = Keeper("node-a");  // a 10 s lease: only a give-back frees them within this test
  auto b = Keeper("node-b");
  ASSERT_TRUE(a && b);
  Round(*a);
  Round(*b);
  ASSERT_EQ(b->HeldCount(), 0);
  ASSERT_TRUE(a->ReleaseAll().ok());
  EXPECT_EQ(a->HeldCount(), 0);
  EXPECT_EQ(Round(*b).size(), static_cast<size_t>(kPartitions));
  ExpectNoPartitionHeldTwice({a.get(), b.get()});
}

TEST_F(LeaseKeeperTest, ANodeNamingAnotherPartitionCountIsRefused) {
  PostgresOptions o = Options();
  o.partitions = kPartitions * 2;
  o.partitions_fixed = true;
  auto store = OpenPostgresStore(o);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(store.error().message().find("fixed at init"), std::string::npos);
  o.partitions = kPartitions;
  EXPECT_TRUE(OpenPostgresStore(o));
}

// A store serving only the partitions its node holds: new ids in them, its due timers only
// theirs, and a commit to another node's partition refused by the fence.
TEST_F(LeaseKeeperTest, AStoreSharedByNodesWritesAndFiresOnlyThePartitionsItHolds) {
  std::shared_ptr<LeaseKeeper> a = Keeper("node-a");
  auto b = Keeper("node-b");
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 3; ++round) {
    Round(*a);
    Round(*b);
  }
  ASSERT_EQ(a->HeldCount(), kPartitions / 2);
  PostgresOptions o = Options();
  o.node = "node-a";
  auto store = OpenPostgresStore(o);
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE(ServeOnlyHeldPartitions(**store, a).ok());
  ProfileId mine = 0;
  ProfileId theirs = 0;
  for (ProfileId id = 1; mine == 0 || theirs == 0; ++id) {
    (a->Holds(a->PartitionOf(id)) ? mine : theirs) = id;
  }
  EXPECT_TRUE((*store)->Serves(mine));
  EXPECT_FALSE((*store)->Serves(theirs));
  auto write = [&](ProfileId id) {
    Batch batch;
    ProfileWrite w;
    w.is_new = true;
    w.row.id = id;
    w.row.ext_key = "key-" + std::to_string(id);
    w.row.external_id = "sealed";
    batch.profiles.push_back(w);
    batch.timers.push_back(TimerRow{id, "t", 1000});
    return (*store)->Commit(batch);
  };
  EXPECT_TRUE(write(mine)) << "a partition node-a holds";
  auto refused = write(theirs);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kUnavailable);
  // An anchors' backfill batch (anchors only, DECISIONS 177) is fenced too.
  auto anchor = [&](ProfileId id) {
    Batch batch;
    batch.anchors.push_back(AnchorChange{id, "birthday", AnchorDate{0, 6, 20}});
    return (*store)->Commit(batch);
  };
  EXPECT_TRUE(anchor(mine)) << "a partition node-a holds";
  auto anchor_refused = anchor(theirs);
  ASSERT_FALSE(anchor_refused);
  EXPECT_EQ(anchor_refused.error().code(), Status::Code::kUnavailable);
  // A batch of a partition's marks alone is fenced by the partitions it names (DECISIONS 176).
  auto mark = [&](ProfileId id) {
    Batch batch;
    batch.meta["kept/test"] = "{}";
    batch.fenced_parts.push_back(a->PartitionOf(id));
    return (*store)->Commit(batch);
  };
  EXPECT_TRUE(mark(mine)) << "a partition node-a holds";
  auto mark_refused = mark(theirs);
  ASSERT_FALSE(mark_refused);
  EXPECT_EQ(mark_refused.error().code(), Status::Code::kUnavailable);
  // node-b's timer, written under node-b, is not node-a's to fire.
  ASSERT_TRUE(Main()
                  .Do("INSERT INTO timers (profile_id, trigger, part, due_us) VALUES ($1, 't', "
                      "$2, 1000);",
                      pg::Params().Int(theirs).Int(a->PartitionOf(theirs)))
                  .ok());
  auto due = (*store)->DueTimers(2000, 10);
  ASSERT_TRUE(due) << due.error().ToString();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().profile_id, mine);
  // New ids: each in its external id digest's partition (DECISIONS 170), made only when node-a
  // holds it; another node's digest is Unavailable, whatever is stored.
  FakeClock clock{TimePoint(std::chrono::seconds(1'700'000'000))};
  ProfileIdAllocator ids(**store, clock);
  int made = 0;
  int refused_keys = 0;
  ProfileId last = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string digest = "digest-" + std::to_string(i);
    const int part = a->PartitionOfKey(digest);
    EXPECT_EQ((*store)->ServesKey(digest), a->Holds(part));
    auto id = ids.Next(digest);
    if (!a->Holds(part)) {
      ASSERT_FALSE(id) << digest;
      EXPECT_EQ(id.error().code(), Status::Code::kUnavailable);
      ++refused_keys;
      continue;
    }
    ASSERT_TRUE(id) << id.error().ToString();
    EXPECT_EQ(a->PartitionOf(*id), part) << *id;
    EXPECT_GT(*id, last);
    last = *id;
    ++made;
  }
  EXPECT_GT(made, 0);
  EXPECT_GT(refused_keys, 0);
  // An alias only within its profile's partition, among several nodes; the store refuses one
  // outside it whatever the caller checked.
  std::string inside, outside;
  for (int i = 0; i < 1000 && (inside.empty() || outside.empty()); ++i) {
    const std::string digest = "alias-" + std::to_string(i);
    const bool same = a->PartitionOfKey(digest) == a->PartitionOf(mine);
    EXPECT_EQ((*store)->MayAlias(digest, mine), same);
    (same ? inside : outside) = digest;
  }
  auto alias = [&](const std::string& digest) {
    Batch batch;
    batch.aliases.push_back(AliasRow{digest, mine, 0, 1000});
    return (*store)->Commit(batch);
  };
  auto across = alias(outside);
  ASSERT_FALSE(across);
  EXPECT_EQ(across.error().code(), Status::Code::kConflict);
  EXPECT_TRUE(alias(inside)) << "an alias in its profile's partition";
}

// A partition's tenure (docs/DECISIONS.md 173) stays while rounds renew it without a gap, and
// changes when the node takes it anew: after giving it back, or after its lease lapsed on the
// node's clock (a peer may have held it meanwhile).
TEST_F(LeaseKeeperTest, ATenureStaysWhileRenewedAndChangesWhenThePartitionIsTakenAnew) {
  const auto lease = 600ms;
  auto a = Keeper("node-a", lease);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->HeldTenures().empty());
  Round(*a);
  const auto first = a->HeldTenures();
  ASSERT_EQ(first.size(), static_cast<size_t>(kPartitions));
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].first, static_cast<int>(i));
  }
  Round(*a);
  EXPECT_EQ(a->HeldTenures(), first) << "renewed without a gap: the same tenures";

  // Given back, then taken again: new tenures.
  ASSERT_TRUE(a->ReleaseAll().ok());
  EXPECT_TRUE(a->HeldTenures().empty());
  Round(*a);
  const auto second = a->HeldTenures();
  ASSERT_EQ(second.size(), first.size());
  for (size_t i = 0; i < second.size(); ++i) {
    EXPECT_NE(second[i].second, first[i].second) << "partition " << i;
  }

  // A lapse: no round until the deadline passed; the next round renews or retakes, anew.
  const auto give_up = std::chrono::steady_clock::now() + 10 * lease;
  while (a->HeldCount() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(lease / 10);  // polling the deadline, not a synchronisation
  }
  ASSERT_EQ(a->HeldCount(), 0);
  EXPECT_TRUE(a->HeldTenures().empty());
  Round(*a);
  const auto third = a->HeldTenures();
  ASSERT_EQ(third.size(), first.size());
  for (size_t i = 0; i < third.size(); ++i) {
    EXPECT_NE(third[i].second, second[i].second) << "partition " << i;
  }
}

// Among several nodes a pass covers one partition at a time (docs/DECISIONS.md 173): the store
// says which partitions its node holds, with their tenures, and its range reads of one partition
// give only that partition's profiles, ascending and paged, each with what it holds — its
// anchors, timers, fields asked for, segments and data key — and none of another partition's.
TEST_F(LeaseKeeperTest, APartitionsRangeReadsGiveOnlyItsProfilesWithWhatEachHolds) {
  std::shared_ptr<LeaseKeeper> a = Keeper("node-a");
  ASSERT_TRUE(a);
  PostgresOptions o = Options();
  auto single = OpenPostgresStore(o);
  ASSERT_TRUE(single) << single.error().ToString();
  EXPECT_FALSE((*single)->HeldPartitions().has_value()) << "one node: every profile";
  EXPECT_EQ((*single)->PartitionCount(), kPartitions);
  o.node = "node-a";
  auto store = OpenPostgresStore(o);
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE(ServeOnlyHeldPartitions(**store, a).ok());
  Round(*a);
  auto held = (*store)->HeldPartitions();
  ASSERT_TRUE(held.has_value());
  ASSERT_EQ(held->size(), static_cast<size_t>(kPartitions));
  const auto tenures = a->HeldTenures();
  for (size_t i = 0; i < held->size(); ++i) {
    EXPECT_EQ((*held)[i], (HeldPartition{tenures[i].first, tenures[i].second}));
  }

  // 60 profiles, each with a field, an anchor, a timer, a segment row and a data key.
  constexpr int kProfiles = 60;
  Batch batch;
  for (ProfileId id = 1; id <= kProfiles; ++id) {
    ProfileWrite w;
    w.is_new = true;
    w.row.id = id;
    w.row.ext_key = "key-" + std::to_string(id);
    w.row.external_id = "sealed";
    w.row.timezone = "Asia/Shanghai";
    w.set_fields["city"] = "city-" + std::to_string(id);
    w.set_fields["other"] = "other-" + std::to_string(id);
    w.anchors["birthday"] = AnchorDate{0, 1 + static_cast<int>(id % 12), 1};
    batch.profiles.push_back(w);
    batch.timers.push_back(TimerRow{id, "t", 1000 + id});
    batch.members.push_back(SegmentMember{"seg", id, true});
    ASSERT_TRUE((*store)->PutDataKey(id, "wrapped-" + std::to_string(id)).ok());
  }
  ASSERT_TRUE((*store)->Commit(batch)) << "node-a holds every partition";

  const int part = a->PartitionOf(7);
  std::vector<ProfileId> expected;
  for (ProfileId id = 1; id <= kProfiles; ++id) {
    if (a->PartitionOf(id) == part) {
      expected.push_back(id);
    }
  }
  ASSERT_GE(expected.size(), 2u) << "a partition of 16 holds a few of 60 ids";
  // Paged two at a time.
  std::vector<ProfileId> rearm, portrait;
  for (ProfileId after = 0;;) {
    auto page = (*store)->RearmInputsIn(part, after, 2);
    ASSERT_TRUE(page) << page.error().ToString();
    if (page->empty()) {
      break;
    }
    EXPECT_LE(page->size(), 2u);
    for (const TimerInputs& in : *page) {
      rearm.push_back(in.profile_id);
      EXPECT_EQ(in.timezone, "Asia/Shanghai");
      ASSERT_EQ(in.anchors.size(), 1u);
      EXPECT_EQ(in.anchors.at("birthday").month, 1 + static_cast<int>(in.profile_id % 12));
      ASSERT_EQ(in.timers.size(), 1u);
      EXPECT_EQ(in.timers[0].due_us, 1000 + in.profile_id);
    }
    after = page->back().profile_id;
  }
  EXPECT_EQ(rearm, expected);
  for (ProfileId after = 0;;) {
    auto page = (*store)->PortraitInputsIn(part, after, 2, {.fields = {"city"}});
    ASSERT_TRUE(page) << page.error().ToString();
    if (page->empty()) {
      break;
    }
    for (const PortraitInputs& in : *page) {
      portrait.push_back(in.row.id);
      const std::string n = std::to_string(in.row.id);
      EXPECT_EQ(in.fields, (std::map<std::string, std::string>{{"city", "city-" + n}}));
      EXPECT_EQ(in.segments, std::vector<std::string>{"seg"});
      EXPECT_EQ(in.wrapped_key, "wrapped-" + n);
      ASSERT_EQ(in.timers.timers.size(), 1u);
      EXPECT_EQ(in.timers.anchors.size(), 1u);
    }
    after = page->back().row.id;
  }
  EXPECT_EQ(portrait, expected);
  // The walk over every profile is as before: all of them, in order.
  auto all = (*store)->RearmInputs(0, 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), static_cast<size_t>(kProfiles));
  // A store without partitions refuses a partition's read.
  auto memory = NewMemoryStore();
  EXPECT_FALSE(memory->HeldPartitions().has_value());
  EXPECT_EQ(memory->PartitionCount(), 0);
  auto refused = memory->RearmInputsIn(0, 0, 10);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace portrait::store
