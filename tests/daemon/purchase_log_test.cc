// ReadPurchases over a real SQLCipher store: a customer erased between the pages a fit reads is
// left out whole, whether its later events are gone (an erasure deletes them) or still there
// without a key (review s26, finding 7; docs/DECISIONS.md 119).
#include "daemon/purchase_log.h"

#include <gtest/gtest.h>

#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

constexpr int kPage = 10'000;  // ReadPurchases' page

class PurchaseLogTest : public ServiceFixture {
 protected:
  // Customers a, b and c; a's first order comes first, then b's kPage orders, c's, and a's
  // second last: the first page holds a's first order, the second page a's second.
  void SetUp() override {
    Caller admin = As("admin", "service");
    for (const char* id : {"a", "b", "c"}) {
      ASSERT_TRUE(profiles_.Write(admin, id, {{"fields", {{"name", "N"}}}}));
      ids_[id] = vault_.IdOf(id).value();
    }
    store::Batch batch;
    auto order = [&](const std::string& who, int64_t second) {
      batch.events.push_back(
          {"order-" + who + "-" + std::to_string(second), ids_[who], "order.placed",
           second * 1'000'000,
           vault_.SealFor(ids_[who], store::kEventDataField, R"({"amount": 5})").value()});
    };
    order("a", 1'000);
    for (int i = 0; i < kPage; ++i) {
      order("b", 2'000 + 86'400 * i / kPage);
    }
    order("c", 200'000);
    order("a", 300'000);
    ASSERT_TRUE(store_.Commit(batch));
  }
  // Reads the purchases, running `between_pages` before the second page is read.
  PurchaseSummaries Read(const std::function<void()>& between_pages) {
    int pages = 0;
    store_.before_events_of_type = [&] {
      if (++pages == 2) {
        between_pages();
      }
    };
    auto read = ReadPurchases(store_, vault_, "order.placed", "amount", Now());
    store_.before_events_of_type = nullptr;
    EXPECT_GE(pages, 2);
    EXPECT_TRUE(read.has_value()) << read.error().ToString();
    return read ? std::move(*read) : PurchaseSummaries{};
  }

  std::map<std::string, store::ProfileId> ids_;
};

TEST_F(PurchaseLogTest, ACustomerErasedBetweenPagesIsLeftOutWhole) {
  const PurchaseSummaries logs = Read([&] { ASSERT_TRUE(vault_.Erase("a")); });
  EXPECT_EQ(logs.by_profile.size(), 2u);
  EXPECT_FALSE(logs.by_profile.contains(ids_["a"]));  // not the first order alone
  EXPECT_TRUE(logs.by_profile.contains(ids_["b"]));
  EXPECT_TRUE(logs.by_profile.contains(ids_["c"]));
  EXPECT_EQ(logs.dropped, std::unordered_set<store::ProfileId>{ids_["a"]});
  EXPECT_EQ(logs.unreadable, 0);  // its later order went with it
}

TEST_F(PurchaseLogTest, ACustomerWhoseKeyWentBetweenPagesIsLeftOutWhole) {
  const PurchaseSummaries logs = Read([&] { ASSERT_TRUE(vault_.DestroyKey(ids_["a"]).ok()); });
  EXPECT_EQ(logs.by_profile.size(), 2u);
  EXPECT_FALSE(logs.by_profile.contains(ids_["a"]));
  EXPECT_EQ(logs.dropped, std::unordered_set<store::ProfileId>{ids_["a"]});
  EXPECT_EQ(logs.unreadable, 1);  // its second order, without a key to open it
  EXPECT_EQ(logs.events, kPage + 2);
}

}  // namespace
}  // namespace portrait::daemon
