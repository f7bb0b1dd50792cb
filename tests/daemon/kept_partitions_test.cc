// The kept values' marks among several nodes (daemon/kept_marks.h, docs/DECISIONS.md 176), on a
// PostgreSQL schema of the test binary's own server with four partitions: two nodes, each a
// store of its own with a lease keeper holding two of them, and one node (no keeper). A node of
// several that forgets a base-wide mark moves it to the partitions it does not hold; a partition
// taken anew forgets what the taker's rules lack; a value is complete base-wide only when every
// partition has it; a rebuild marks a partition only while it is held.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/kept_marks.h"
#include "store/postgres/lease_keeper.h"
#include "store/postgres/postgres_store.h"
#include "tests/daemon/service_fixture.h"
#include "tests/support/postgres_server.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;
using testing::PostgresServer;

constexpr int kPartitions = 4;
const std::string kOrders = "count\norder.placed\n";  // the definition KeptMarks records
const std::string kRulesWithOrders =
    "[[metric]]\nname = \"orders\"\ncount = \"order.placed\"\n"
    "[[model]]\nname = \"clv\"\nkind = \"bgnbd\"\npurchases = \"order.placed\"\n"
    "amount = \"amount\"\n";
const std::string kRulesWithoutOrders = "[[metric]]\nname = \"visits\"\ncount = \"page.viewed\"\n";

class KeptMarksOnPartitions : public ServiceFixture {
 protected:
  // One node's store, audit log and marks; `node` empty: one node, holding every partition.
  struct Node {
    std::unique_ptr<store::Store> store;
    std::shared_ptr<store::LeaseKeeper> leases;
    std::unique_ptr<store::AuditLog> audit;
    std::unique_ptr<KeptMarks> marks;
  };

  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
    store::PostgresOptions o = Options("");
    o.create = true;
    o.partitions = kPartitions;
    auto made = store::OpenPostgresStore(o);
    ASSERT_TRUE(made) << made.error().ToString();
    a_ = Open("node-a");
    b_ = Open("node-b");
    one_ = Open("");
    ASSERT_TRUE(a_.marks && b_.marks && one_.marks);
    // Fair shares: a takes all four, b joins, a gives two back, b takes them.
    for (Node* n : {&a_, &b_, &a_, &b_}) {
      ASSERT_TRUE(n->leases->Round());
    }
    ASSERT_EQ(Parts(a_), (std::vector<int>{0, 1}));
    ASSERT_EQ(Parts(b_), (std::vector<int>{2, 3}));
  }

  store::PostgresOptions Options(const std::string& node) const {
    store::PostgresOptions o;
    o.url = dbs_.url;
    o.keystore_url = dbs_.keystore_url;
    o.password = &server_->password();
    o.keystore_password = &server_->keystore_password();
    o.readers = 1;
    o.node = node;
    return o;
  }

  Node Open(const std::string& node) {
    Node n;
    auto opened = store::OpenPostgresStore(Options(node));
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (!opened) {
      return n;
    }
    n.store = std::move(*opened);
    if (!node.empty()) {
      auto keeper = store::LeaseKeeper::Open(store::LeaseOptions{dbs_.url, &server_->password(),
                                                                 node, "http://" + node + ":8080",
                                                                 std::chrono::seconds(60)});
      EXPECT_TRUE(keeper) << keeper.error().ToString();
      if (!keeper) {
        return n;
      }
      n.leases = std::move(*keeper);
      EXPECT_TRUE(store::ServeOnlyHeldPartitions(*n.store, n.leases).ok());
    }
    n.audit =
        std::make_unique<store::AuditLog>(*n.store, signer_, data_.keys.audit_mac_key(), clock_);
    n.marks = std::make_unique<KeptMarks>(*n.store, *n.audit);
    return n;
  }

  static std::vector<int> Parts(const Node& n) {
    std::vector<int> parts;
    const std::vector<store::HeldPartition> held =
        n.store->HeldPartitions().value_or(std::vector<store::HeldPartition>());
    for (const store::HeldPartition& p : held) {
      parts.push_back(p.part);
    }
    return parts;
  }
  static store::HeldPartition Held(const Node& n, int part) {
    const std::vector<store::HeldPartition> held =
        n.store->HeldPartitions().value_or(std::vector<store::HeldPartition>());
    for (const store::HeldPartition& p : held) {
      if (p.part == part) {
        return p;
      }
    }
    ADD_FAILURE() << "partition " << part << " is not held";
    return {};
  }

  std::shared_ptr<const LoadedRules> Loaded(const std::string& text) {
    auto set = rules::ParseRules({config::SourceFile{"rules.toml", text}}, config_);
    EXPECT_TRUE(set) << set.error().ToString();
    return std::make_shared<const LoadedRules>(in_force_.Get(),
                                               set ? std::move(*set) : rules::RuleSet{}, "fp");
  }

  json Meta(const std::string& key) {
    auto stored = one_.store->GetMeta(key);
    EXPECT_TRUE(stored) << stored.error().ToString();
    return stored && *stored ? json::parse(**stored) : json();
  }
  // Whether partition `part`'s marks name metric `name` (with kOrders for "orders").
  bool PartHasMetric(int part, const std::string& name) {
    const json marks = Meta(KeptPartitionKey(part));
    return marks.is_object() && marks["metrics"].contains(name);
  }
  void SetMeta(const std::string& key, const std::string& value) {
    store::Batch batch;
    batch.meta[key] = value;
    ASSERT_TRUE(one_.store->Commit(batch));
  }
  std::vector<std::string> IncompleteMetrics(Node& n, const rules::RuleSet& set,
                                             std::optional<int> part) {
    auto targets = n.marks->Incomplete(set, part);
    EXPECT_TRUE(targets) << targets.error().ToString();
    std::vector<std::string> names;
    for (const rules::Metric& m : targets ? targets->metrics : std::vector<rules::Metric>()) {
      names.push_back(m.name);
    }
    return names;
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
  Node a_;
  Node b_;
  Node one_;
};

TEST_F(KeptMarksOnPartitions, ANodeOfSeveralMovesWhatItForgetsToThePartitionsItDoesNotHold) {
  // Every partition complete for "orders", by the base-wide mark a single node wrote.
  SetMeta("kept_metrics", json{{"orders", kOrders}}.dump());
  SetMeta("purchase_books", "{}");
  const auto with_orders = Loaded(kRulesWithOrders);
  EXPECT_TRUE(IncompleteMetrics(a_, with_orders->set, 0).empty());

  // Node a's rules drop it: a no longer keeps it in partitions 0 and 1, b still does in 2, 3.
  RulesHolder holder{with_orders};
  ASSERT_TRUE(a_.marks->Replace(holder, Loaded(kRulesWithoutOrders)).ok());
  EXPECT_FALSE(Meta("kept_metrics").contains("orders"));
  for (int part : {2, 3}) {
    EXPECT_TRUE(PartHasMetric(part, "orders")) << part;
    EXPECT_EQ(Meta(KeptPartitionKey(part))["metrics"]["orders"], kOrders);
  }
  for (int part : {0, 1}) {
    EXPECT_FALSE(PartHasMetric(part, "orders")) << part;
  }
  // Its peers see that their partitions' marks were written (and vet them again).
  const std::string moved = one_.store->GetMeta(kKeptMovedKey).value().value_or("");
  EXPECT_FALSE(moved.empty());
  EXPECT_TRUE(IncompleteMetrics(b_, with_orders->set, 2).empty());
  EXPECT_EQ(IncompleteMetrics(a_, with_orders->set, 0), (std::vector<std::string>{"orders"}));
  // Base-wide, "orders" is complete no more.
  EXPECT_EQ(IncompleteMetrics(one_, with_orders->set, std::nullopt),
            (std::vector<std::string>{"orders"}));
  // "visits" has no stored event: complete in the partitions a holds only (b's rules may apply
  // page views without it), never in the base-wide mark.
  for (int part : {0, 1}) {
    EXPECT_TRUE(PartHasMetric(part, "visits")) << part;
  }
  for (int part : {2, 3}) {
    EXPECT_FALSE(PartHasMetric(part, "visits")) << part;
  }
  EXPECT_FALSE(Meta("kept_metrics").contains("visits"));

  // Another reload of a's that writes partitions' marks (it forgets "visits" in its own) sets
  // another value.
  RulesHolder again{Loaded(kRulesWithoutOrders)};
  ASSERT_TRUE(a_.marks->Replace(again, Loaded(kRulesWithOrders)).ok());
  EXPECT_FALSE(PartHasMetric(0, "visits"));
  EXPECT_NE(one_.store->GetMeta(kKeptMovedKey).value().value_or(""), moved);

  // One node that forgets "orders" forgets it in every partition.
  RulesHolder single{with_orders};
  ASSERT_TRUE(one_.marks->Replace(single, Loaded(kRulesWithoutOrders)).ok());
  for (int part = 0; part < kPartitions; ++part) {
    EXPECT_FALSE(PartHasMetric(part, "orders")) << part;
  }
}

// A reload keeps in a partition it holds only what the rules in force until now kept too: the
// node applied the partition's events under those, and a mark it has not vetted yet (its last
// holder's) may name a value they lacked.
TEST_F(KeptMarksOnPartitions, AReloadKeepsInAHeldPartitionOnlyWhatTheRulesBeforeItKeptToo) {
  SetMeta("kept_metrics", "{}");
  SetMeta("purchase_books", "{}");
  {  // an order stored: "orders" can't be marked as a value no stored event feeds
    store::Batch batch;
    store::ProfileWrite w;
    w.is_new = true;
    w.row.id = 7;
    w.row.ext_key = "key-7";
    w.row.external_id = "sealed";
    batch.profiles.push_back(w);
    batch.events.push_back(store::EventRow{"event-1", 7, "order.placed", 1000, "sealed"});
    auto committed = one_.store->Commit(batch);
    ASSERT_TRUE(committed) << committed.error().ToString();
  }
  SetMeta(KeptPartitionKey(1),
          json{{"metrics", {{"orders", kOrders}}}, {"books", json::object()}}.dump());
  RulesHolder holder{Loaded(kRulesWithoutOrders)};
  const auto with_orders = Loaded(kRulesWithOrders);
  ASSERT_TRUE(a_.marks->Replace(holder, with_orders).ok());
  EXPECT_FALSE(PartHasMetric(1, "orders"));
  EXPECT_EQ(IncompleteMetrics(a_, with_orders->set, 1), (std::vector<std::string>{"orders"}));
}

// A change flag that does not read as a count does not stop a partition's rebuild from being
// marked: it is taken as set (the rebuild count moves) and cleared.
TEST_F(KeptMarksOnPartitions, ADamagedChangeFlagIsTakenAsSetAndCleared) {
  KeptTargets books;
  books.models = {Loaded(kRulesWithOrders)->set.models.at(0)};
  SetMeta(RebuildChangedKey(2), "x");
  ASSERT_TRUE(b_.marks
                  ->MarkRebuiltIn(Held(b_, 2), books, b_.marks->generation(), RebuildCounts{},
                                  /*portrait_reads=*/true, clock_.NowUs())
                  .value());
  EXPECT_EQ(MetaCount(*one_.store, kRebuildsKey).value(), 1);
  EXPECT_EQ(MetaCount(*one_.store, RebuildChangedKey(2)).value(), 0);
}

TEST_F(KeptMarksOnPartitions, APartitionTakenAnewForgetsWhatTheTakersRulesLack) {
  SetMeta(KeptPartitionKey(2),
          json{{"metrics", {{"orders", kOrders}}}, {"books", json::object()}}.dump());
  // Rules that keep it: the mark stays.
  ASSERT_TRUE(b_.marks->Vet(Loaded(kRulesWithOrders)->set, {2}).ok());
  EXPECT_TRUE(PartHasMetric(2, "orders"));
  // Rules that lack it (a node that applies the partition's events without it): it goes.
  ASSERT_TRUE(b_.marks->Vet(Loaded(kRulesWithoutOrders)->set, {2}).ok());
  EXPECT_FALSE(PartHasMetric(2, "orders"));
  // Another definition under the same name is no more kept than none.
  SetMeta(KeptPartitionKey(3),
          json{{"metrics", {{"orders", "sum\norder.placed\namount"}}}, {"books", json::object()}}
              .dump());
  ASSERT_TRUE(b_.marks->Vet(Loaded(kRulesWithOrders)->set, {3}).ok());
  EXPECT_FALSE(PartHasMetric(3, "orders"));
}

TEST_F(KeptMarksOnPartitions, AModelIsCompleteOnlyWhenEveryPartitionHasItsBooks) {
  const auto rules = Loaded(kRulesWithOrders);
  const rules::Model& clv = rules->set.models.at(0);
  KeptTargets books;
  books.models = {clv};
  EXPECT_FALSE(one_.marks->Complete(clv).value());
  // Three partitions rebuilt by their holders, the fourth not yet.
  for (auto [node, part] : {std::pair{&a_, 0}, {&a_, 1}, {&b_, 2}}) {
    ASSERT_TRUE(node->marks
                    ->MarkRebuiltIn(Held(*node, part), books, node->marks->generation(),
                                    RebuildCounts{}, /*portrait_reads=*/false, clock_.NowUs())
                    .value());
  }
  EXPECT_FALSE(one_.marks->Complete(clv).value());
  EXPECT_FALSE(a_.marks->Complete(clv).value());
  // A node that does not hold partition 3 can't mark it.
  auto refused = a_.marks->MarkRebuiltIn(store::HeldPartition{3, 1}, books, a_.marks->generation(),
                                         RebuildCounts{}, false, clock_.NowUs());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kUnavailable);
  EXPECT_FALSE(one_.marks->Complete(clv).value());

  // Its holder's rebuild, which a cut-off job flagged as having changed a profile: the rebuild
  // count moves (the portrait reads the values), the flag is cleared.
  SetMeta(RebuildChangedKey(3), "1");
  ASSERT_TRUE(b_.marks
                  ->MarkRebuiltIn(Held(b_, 3), books, b_.marks->generation(), RebuildCounts{},
                                  /*portrait_reads=*/true, clock_.NowUs())
                  .value());
  EXPECT_EQ(MetaCount(*one_.store, kRebuildsKey).value(), 1);
  EXPECT_EQ(MetaCount(*one_.store, RebuildChangedKey(3)).value(), 0);
  EXPECT_TRUE(one_.marks->Complete(clv).value());
  EXPECT_TRUE(a_.marks->Complete(clv).value());
  // One node's incomplete values, base-wide, leave out what every partition has.
  auto targets = one_.marks->Incomplete(rules->set);
  ASSERT_TRUE(targets);
  EXPECT_TRUE(targets->models.empty());
  EXPECT_EQ(targets->metrics.size(), 1u);  // "orders": marked nowhere
}

}  // namespace
}  // namespace portrait::daemon
