// The Store contract for fitted parameters (ModelRow) and the range reads a fit and a refresh
// use (EventsOfType, ProfileRows), on the memory and SQLCipher backends.
#include "tests/store/store_contract_fixture.h"

namespace portrait::store {
namespace {

template <typename Backend>
class ModelContract : public StoreContract<Backend> {
 protected:
  Status Put(ModelRow row) {
    Batch b;
    b.models.push_back(std::move(row));
    b.audit.push_back(AuditEntry{1, "system", "model.fit", 0, "", "{}"});
    auto r = this->store_->Commit(b);
    return r ? Status::Ok() : r.error();
  }
};

TYPED_TEST_SUITE(ModelContract, Backends);

TYPED_TEST(ModelContract, AModelIsStoredReplacedByAGreaterVersionAndListed) {
  auto none = this->store_->GetModel("bgnbd", "clv");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(this->Put({"bgnbd", "clv", 1, R"({"r":0.2})", 100}).ok());
  ASSERT_TRUE(this->Put({"rfm", "clv", 1, R"({"mean_r":3})", 100}).ok());  // another kind
  ASSERT_TRUE(this->Put({"bgnbd", "clv", 2, R"({"r":0.3})", 200}).ok());
  auto got = this->store_->GetModel("bgnbd", "clv");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->version, 2);
  EXPECT_EQ((*got)->params, R"({"r":0.3})");
  EXPECT_EQ((*got)->fitted_us, 200);
  auto all = this->store_->ListModels();
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].kind, "bgnbd");
  EXPECT_EQ((*all)[1].kind, "rfm");
  EXPECT_EQ((*all)[1].params, R"({"mean_r":3})");
}

TYPED_TEST(ModelContract, AVersionNotAboveTheStoredOneIsAConflictAndWritesNothing) {
  ASSERT_TRUE(this->Put({"bgnbd", "clv", 3, "{}", 100}).ok());
  auto head = this->store_->AuditHead();
  ASSERT_TRUE(head);
  Status same = this->Put({"bgnbd", "clv", 3, R"({"x":1})", 300});
  EXPECT_EQ(same.code(), Status::Code::kConflict) << same.ToString();
  EXPECT_EQ(this->Put({"bgnbd", "clv", 2, "{}", 300}).code(), Status::Code::kConflict);
  auto got = this->store_->GetModel("bgnbd", "clv");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->params, "{}");
  auto after = this->store_->AuditHead();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->first, head->first);  // the refused batch's audit record is not stored
}

TYPED_TEST(ModelContract, EventsOfTypeAreARangeInTimeAndKeyOrderUpToUntil) {
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  ASSERT_TRUE(this->Write(this->NewProfile(2, "k2")).ok());
  Batch b;
  b.events = {this->Event("e3", 1, 300), this->Event("e1", 2, 100), this->Event("e2", 1, 100),
              this->Event("e4", 2, 400), this->Event("e5", 2, 500)};
  b.events.push_back(EventRow{"c1", 1, "cart.updated", 200, "sealed"});
  ASSERT_TRUE(this->store_->Commit(b));
  std::vector<std::string> keys;
  EventCursor at;
  while (true) {
    auto page = this->store_->EventsOfType("order.placed", 400, at, 2);
    ASSERT_TRUE(page) << page.error().ToString();
    if (page->empty()) {
      break;
    }
    EXPECT_LE(page->size(), 2u);
    for (const EventRow& e : *page) {
      keys.push_back(e.key);
      EXPECT_EQ(e.type, "order.placed");
      EXPECT_EQ(e.data, "sealed-data");
    }
    at = EventCursor{page->back().time_us, page->back().key};
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"e1", "e2", "e3", "e4"}));  // e5 after until
  auto first = this->store_->EventsOfType("order.placed", 400, EventCursor{}, 10);
  ASSERT_TRUE(first && first->size() == 4u);
  EXPECT_EQ((*first)[2].profile_id, 1);
  EXPECT_EQ((*first)[2].time_us, 300);
}

TYPED_TEST(ModelContract, LatestEventTimeIsTheLatestOfTheTypeOrNone) {
  auto none = this->store_->LatestEventTime("order.placed");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1")).ok());
  Batch b;
  b.events = {this->Event("e1", 1, 300), this->Event("e2", 1, 500), this->Event("e3", 1, 100)};
  b.events.push_back(EventRow{"c1", 1, "cart.updated", 900, "sealed"});
  ASSERT_TRUE(this->store_->Commit(b));
  auto latest = this->store_->LatestEventTime("order.placed");
  ASSERT_TRUE(latest) << latest.error().ToString();
  EXPECT_EQ(*latest, std::optional<int64_t>(500));  // the cart at 900 is another type
  EXPECT_EQ(*this->store_->LatestEventTime("cart.updated"), std::optional<int64_t>(900));
  EXPECT_FALSE(this->store_->LatestEventTime("ticket.closed")->has_value());
}

TYPED_TEST(ModelContract, ProfileRowsAreARangeInIdOrder) {
  for (ProfileId id : {7, 3, 5}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.row.metrics = "sealed-metrics-" + std::to_string(id);
    ASSERT_TRUE(this->Write(w).ok());
  }
  auto page = this->store_->ProfileRows(3, 1);
  ASSERT_TRUE(page) << page.error().ToString();
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, 5);
  EXPECT_EQ((*page)[0].metrics, "sealed-metrics-5");
  auto all = this->store_->ProfileRows(0, 10);
  ASSERT_TRUE(all && all->size() == 3u);
  EXPECT_EQ((*all)[2].id, 7);
  EXPECT_EQ((*all)[0].ext_key, "k3");
}

}  // namespace
}  // namespace portrait::store
