// The Store contract for anniversary anchors and the range reads of the re-arm (RearmInputs) and
// the base-wide re-evaluation (PortraitInputsAfter), on the memory and SQLCipher backends.
#include "tests/store/store_contract_fixture.h"

namespace portrait::store {
namespace {

template <typename Backend>
class AnchorContract : public StoreContract<Backend> {
 protected:
  // The one entry of profile `id` RearmInputs gives, or an entry with id 0 when it has none.
  TimerInputs InputsOf(ProfileId id) {
    auto all = this->store_->RearmInputs(0, 1000);
    EXPECT_TRUE(all) << all.error().ToString();
    for (TimerInputs& in : *all) {
      if (in.profile_id == id) {
        return std::move(in);
      }
    }
    return TimerInputs{};
  }
};

TYPED_TEST_SUITE(AnchorContract, Backends);

constexpr AnchorDate kLeapDay{0, 2, 29};
constexpr AnchorDate kAhead{2031, 5, 6};

TYPED_TEST(AnchorContract, AnchorsAreWrittenWithTheProfileReplacedAndDropped) {
  auto w = this->NewProfile(3, "k3");
  w.row.timezone = "Pacific/Kiritimati";
  w.anchors["birthday"] = kLeapDay;
  w.anchors["renewal"] = kAhead;
  ASSERT_TRUE(this->Write(w).ok());
  TimerInputs in = this->InputsOf(3);
  EXPECT_EQ(in.profile_id, 3);
  EXPECT_EQ(in.timezone, "Pacific/Kiritimati");
  EXPECT_EQ(in.anchors,
            (std::map<std::string, AnchorDate>{{"birthday", kLeapDay}, {"renewal", kAhead}}));

  ProfileWrite update = this->NewProfile(3, "k3");
  update.is_new = false;
  update.row.timezone = "Pacific/Pago_Pago";
  update.anchors["birthday"] = AnchorDate{0, 12, 31};
  update.anchors["renewal"] = std::nullopt;
  ASSERT_TRUE(this->Write(update).ok());
  in = this->InputsOf(3);
  EXPECT_EQ(in.timezone, "Pacific/Pago_Pago");
  EXPECT_EQ(in.anchors, (std::map<std::string, AnchorDate>{{"birthday", AnchorDate{0, 12, 31}}}));

  // A write naming no anchor (a state write, an update of other fields) keeps them.
  ProfileWrite state = this->NewProfile(3, "k3");
  state.is_new = false;
  state.state_only = true;
  state.anchors["birthday"] = std::nullopt;  // ignored with the rest of a state write's row
  ASSERT_TRUE(this->Write(state).ok());
  ProfileWrite other = update;
  other.anchors.clear();
  other.set_fields["name"] = "sealed";
  ASSERT_TRUE(this->Write(other).ok());
  EXPECT_EQ(this->InputsOf(3).anchors.size(), 1u);
}

TYPED_TEST(AnchorContract, RearmInputsArePagedInIdOrderEachWithItsAnchorsAndTimers) {
  for (ProfileId id : {20, 5, 10}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    if (id == 10) {
      w.anchors["birthday"] = kLeapDay;
    }
    ASSERT_TRUE(this->Write(w).ok());
  }
  Batch timers;
  timers.timers = {{5, "weekly", 300},
                   {20, "birthday-greeting", 100},
                   {5, "$lifecycle", 200},
                   {20, "$lifecycle", 400}};
  ASSERT_TRUE(this->store_->Commit(timers));

  auto first = this->store_->RearmInputs(0, 2);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].profile_id, 5);
  ASSERT_EQ((*first)[0].timers.size(), 2u);
  EXPECT_EQ((*first)[0].timers[0].trigger, "$lifecycle");  // by trigger
  EXPECT_EQ((*first)[0].timers[0].due_us, 200);
  EXPECT_EQ((*first)[0].timers[1].trigger, "weekly");
  EXPECT_TRUE((*first)[0].anchors.empty());
  EXPECT_EQ((*first)[1].profile_id, 10);
  EXPECT_TRUE((*first)[1].timers.empty());
  EXPECT_EQ((*first)[1].anchors.at("birthday"), kLeapDay);

  auto rest = this->store_->RearmInputs(10, 2);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].profile_id, 20);
  ASSERT_EQ((*rest)[0].timers.size(), 2u);
  EXPECT_EQ((*rest)[0].timers[1].due_us, 100);
  EXPECT_TRUE(this->store_->RearmInputs(20, 2)->empty());
}

TYPED_TEST(AnchorContract, AnErasureDeletesTheProfilesAnchorsOnly) {
  for (ProfileId id : {1, 2}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.anchors["birthday"] = kLeapDay;
    ASSERT_TRUE(this->Write(w).ok());
  }
  Batch erase;
  erase.erasures = {1};
  ASSERT_TRUE(this->store_->Commit(erase));
  // Were it back under the same id, it would have no anchor left.
  ASSERT_TRUE(this->Write(this->NewProfile(1, "k1-again")).ok());
  EXPECT_TRUE(this->InputsOf(1).anchors.empty());
  EXPECT_EQ(this->InputsOf(2).anchors.at("birthday"), kLeapDay);
}

TYPED_TEST(AnchorContract, BatchAnchorChangesSetAndDropAndNeedTheProfile) {
  auto w = this->NewProfile(4, "k4");
  w.anchors["old_date"] = kAhead;
  ASSERT_TRUE(this->Write(w).ok());
  Batch backfill;
  backfill.anchors = {{4, "birthday", kLeapDay}, {4, "old_date", std::nullopt}};
  ASSERT_TRUE(this->store_->Commit(backfill));
  EXPECT_EQ(this->InputsOf(4).anchors, (std::map<std::string, AnchorDate>{{"birthday", kLeapDay}}));

  Batch missing;
  missing.anchors = {{4, "birthday", kAhead}, {99, "birthday", kAhead}};
  missing.meta["anchors.fields"] = "v1:birthday,";
  auto r = this->store_->Commit(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Status::Code::kNotFound);
  EXPECT_EQ(this->InputsOf(4).anchors.at("birthday"), kLeapDay);  // nothing written
  EXPECT_FALSE(*this->store_->GetMeta("anchors.fields"));
}

TYPED_TEST(AnchorContract, APurgedFieldTakesItsAnchorWithItUnlessHeld) {
  for (ProfileId id : {1, 2}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.row.legal_hold = id == 2;
    w.set_fields["birthday"] = "sealed";
    w.set_fields["renewal"] = "sealed";
    w.anchors["birthday"] = kLeapDay;
    w.anchors["renewal"] = kAhead;
    ASSERT_TRUE(this->Write(w).ok());  // fields written at 1000
  }
  PurgeRule rule;
  rule.fields = {"birthday"};
  rule.before_us = 2000;
  auto purged =
      this->store_->Purge(rule, AuditEntry{2000, "system", "retention.purge", 0, "", "{}"});
  ASSERT_TRUE(purged) << purged.error().ToString();
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(this->InputsOf(1).anchors, (std::map<std::string, AnchorDate>{{"renewal", kAhead}}));
  EXPECT_EQ(this->InputsOf(2).anchors.size(), 2u);
}

// A purge deletes at most `limit` rows, the oldest first, each field value with its blind-index
// entry and anchor; what is left goes in the next call (the scheduler's next round).
TYPED_TEST(AnchorContract, APurgeTakesAtMostItsLimitOldestFirst) {
  for (ProfileId id : {1, 2, 3}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.row.updated_us = 1000 + id;
    w.set_fields["birthday"] = "sealed";
    w.blind["birthday"] = "digest";
    w.anchors["birthday"] = kLeapDay;
    ASSERT_TRUE(this->Write(w).ok());
  }
  Batch events;
  for (int i = 0; i < 5; ++i) {
    EventRow e = this->Event("e" + std::to_string(i), 1, 100 - i);  // e4 is the oldest
    e.type = "cart.updated";
    events.events.push_back(e);
  }
  ASSERT_TRUE(this->store_->Commit(events));
  const AuditEntry audit{5000, "system", "retention.purge", 0, "", "{}"};

  PurgeRule carts;
  carts.event_type = "cart.updated";
  carts.before_us = 1000;
  carts.limit = 2;
  EXPECT_EQ(this->store_->Purge(carts, audit).value(), 2);
  std::vector<std::string> left;
  const std::vector<EventRow> stored = this->store_->GetEvents(1).value();
  for (const EventRow& e : stored) {
    left.push_back(e.key);
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"e0", "e1", "e2"}));
  EXPECT_EQ(this->store_->Purge(carts, audit).value(), 2);
  EXPECT_EQ(this->store_->Purge(carts, audit).value(), 1);  // fewer than the limit: done
  EXPECT_EQ(this->store_->Purge(carts, audit).value(), 0);

  PurgeRule birthdays;
  birthdays.fields = {"birthday"};
  birthdays.before_us = 10'000;
  birthdays.limit = 2;
  EXPECT_EQ(this->store_->Purge(birthdays, audit).value(), 2);
  EXPECT_EQ(this->store_->LookupBlind("birthday", "digest").value(), (std::vector<ProfileId>{3}));
  EXPECT_TRUE(this->InputsOf(1).anchors.empty());
  EXPECT_EQ(this->InputsOf(3).anchors.size(), 1u);
  EXPECT_EQ(this->store_->Purge(birthdays, audit).value(), 1);
  EXPECT_TRUE(this->store_->LookupBlind("birthday", "digest").value().empty());
}

TYPED_TEST(AnchorContract, PortraitInputsHoldEachProfilesRowKeyFieldsTimersMembersAndConsents) {
  for (ProfileId id : {7, 3, 9}) {
    auto w = this->NewProfile(id, "k" + std::to_string(id));
    w.row.metrics = "sealed-metrics-" + std::to_string(id);
    w.set_fields["city"] = "sealed-city-" + std::to_string(id);
    w.set_fields["email"] = "sealed-email-" + std::to_string(id);
    if (id == 3) {
      w.anchors["birthday"] = kLeapDay;
    }
    ASSERT_TRUE(this->Write(w).ok());
    if (id != 9) {  // 9's key is gone: erased meanwhile
      ASSERT_TRUE(this->store_->PutDataKey(id, "wrapped-" + std::to_string(id)).ok());
    }
  }
  Batch more;
  more.timers = {{3, "$lifecycle", 200}, {7, "weekly", 300}};
  more.members = {{"vip", 7, true}, {"buyers", 7, true}, {"buyers", 9, true}};
  auto consent = [](ProfileId id, std::string purpose, std::string status) {
    ConsentRow c;
    c.profile_id = id;
    c.purpose = std::move(purpose);
    c.scope = "processing";
    c.channel = "any";
    c.status = std::move(status);
    c.time_us = 100;
    return c;
  };
  more.consents = {consent(7, "personalisation", "objected"), consent(7, "marketing", "granted"),
                   consent(3, "marketing", "granted"), consent(7, "personalisation", "granted")};
  ASSERT_TRUE(this->store_->Commit(more));

  auto first = this->store_->PortraitInputsAfter(
      0, 2, {.fields = {"city"}, .consent_purpose = "personalisation"});
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 2u);
  const PortraitInputs& three = (*first)[0];
  EXPECT_EQ(three.row.id, 3);
  EXPECT_EQ(three.row.metrics, "sealed-metrics-3");
  EXPECT_EQ(three.wrapped_key, "wrapped-3");
  EXPECT_EQ(three.fields, (std::map<std::string, std::string>{{"city", "sealed-city-3"}}));
  EXPECT_EQ(three.timers.profile_id, 3);
  EXPECT_EQ(three.timers.anchors.at("birthday"), kLeapDay);
  ASSERT_EQ(three.timers.timers.size(), 1u);
  EXPECT_EQ(three.timers.timers[0].trigger, "$lifecycle");
  EXPECT_TRUE(three.segments.empty());
  EXPECT_TRUE(three.consents.empty());  // only another purpose's
  const PortraitInputs& seven = (*first)[1];
  EXPECT_EQ(seven.row.id, 7);
  EXPECT_EQ(seven.segments, (std::vector<std::string>{"buyers", "vip"}));
  ASSERT_EQ(seven.consents.size(), 2u);
  EXPECT_EQ(seven.consents[0].status, "objected");  // by id
  EXPECT_EQ(seven.consents[1].status, "granted");
  EXPECT_LT(seven.consents[0].id, seven.consents[1].id);
  EXPECT_EQ(seven.timers.timers[0].trigger, "weekly");

  auto rest = this->store_->PortraitInputsAfter(7, 10, {});
  ASSERT_TRUE(rest) << rest.error().ToString();
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].row.id, 9);
  EXPECT_TRUE((*rest)[0].wrapped_key.empty());
  EXPECT_TRUE((*rest)[0].fields.empty());  // none asked for
  EXPECT_EQ((*rest)[0].segments, (std::vector<std::string>{"buyers"}));
  EXPECT_TRUE(this->store_->PortraitInputsAfter(9, 10, {})->empty());

  // Without timers (a pass after a change of segments alone): the rest as before, no anchor, no
  // timer.
  PortraitRead lean{.fields = {"city"}, .consent_purpose = "personalisation"};
  lean.timers = false;
  auto without = this->store_->PortraitInputsAfter(0, 2, lean);
  ASSERT_TRUE(without) << without.error().ToString();
  ASSERT_EQ(without->size(), 2u);
  EXPECT_EQ((*without)[0].fields, three.fields);
  EXPECT_EQ((*without)[0].timers.timezone, three.timers.timezone);
  EXPECT_TRUE((*without)[0].timers.anchors.empty());
  EXPECT_TRUE((*without)[0].timers.timers.empty());
  EXPECT_EQ((*without)[1].segments, seven.segments);
  EXPECT_EQ((*without)[1].consents.size(), 2u);
  EXPECT_TRUE((*without)[1].timers.timers.empty());
}

}  // namespace
}  // namespace portrait::store
