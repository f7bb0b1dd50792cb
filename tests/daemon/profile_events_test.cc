// OpenEvents over a real SQLCipher store: an event that does not open or hold JSON stops a
// merge (Corruption) but is left out and counted by the rebuild pass, which must not stop at
// one damaged profile (docs/DECISIONS.md 144).
#include "daemon/profile_events.h"

#include <gtest/gtest.h>

#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

class ProfileEventsTest : public ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(profiles_.Write(As("admin", "service"), "a", {{"fields", {{"name", "N"}}}}));
    id_ = vault_.IdOf("a").value();
    store::Batch batch;
    auto event = [&](const std::string& key, int64_t second, std::string data) {
      batch.events.push_back({key, id_, "order.placed", second * 1'000'000, std::move(data)});
    };
    event("good", 1, vault_.SealFor(id_, store::kEventDataField, R"({"amount": 5})").value());
    event("not-json", 2, vault_.SealFor(id_, store::kEventDataField, "{amount").value());
    event("not-sealed", 3, "garbage that is no envelope");
    ASSERT_TRUE(store_.Commit(batch));
  }
  store::ProfileId id_ = 0;
};

TEST_F(ProfileEventsTest, ADamagedEventIsCorruptionUnlessCounted) {
  auto open = vault_.Open(id_);
  ASSERT_TRUE(open) << open.error().ToString();
  auto strict = OpenEvents(store_, *open, {});
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().code(), Status::Code::kCorruption);

  int64_t unreadable = 0;
  auto lenient = OpenEvents(store_, *open, {}, &unreadable);
  ASSERT_TRUE(lenient) << lenient.error().ToString();
  ASSERT_EQ(lenient->size(), 1u);
  EXPECT_EQ((*lenient)[0].key, "good");
  EXPECT_EQ((*lenient)[0].data["amount"], 5);
  EXPECT_EQ(unreadable, 2);
}

TEST_F(ProfileEventsTest, OnlyTheWantedTypesAreOpened) {
  auto open = vault_.Open(id_);
  ASSERT_TRUE(open);
  int64_t unreadable = 0;
  auto none = OpenEvents(
      store_, *open, [](std::string_view type) { return type == "cart.updated"; }, &unreadable);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(unreadable, 0);  // the damaged ones are of another type: never opened
}

}  // namespace
}  // namespace portrait::daemon
