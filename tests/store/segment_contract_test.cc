// The Store contract for the segment members index (SegmentMember rows, CountSegmentMembers,
// SegmentMembers, MembershipsBetween), on the memory and SQLCipher backends.
#include "tests/store/store_contract_fixture.h"

namespace portrait::store {
namespace {

template <typename Backend>
class SegmentContract : public StoreContract<Backend> {
 protected:
  void SetUp() override {
    for (ProfileId id : {2, 5, 9, 14}) {
      ASSERT_TRUE(this->Write(this->NewProfile(id, "k" + std::to_string(id))).ok());
    }
  }
  Status Commit(const Batch& b) {
    auto r = this->store_->Commit(b);
    return r ? Status::Ok() : r.error();
  }
  std::vector<ProfileId> Members(const std::string& segment, ProfileId after = 0, int limit = 100) {
    auto r = this->store_->SegmentMembers(segment, after, limit);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : std::vector<ProfileId>{};
  }
  int64_t Count(const std::string& segment) {
    auto r = this->store_->CountSegmentMembers(segment);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : -1;
  }
};

TYPED_TEST_SUITE(SegmentContract, Backends);

TYPED_TEST(SegmentContract, RowsAreSetDroppedCountedAndPagedByInternalId) {
  Batch b;
  for (ProfileId id : {14, 2, 9, 5}) {
    b.members.push_back(SegmentMember{"vip", id, true});
  }
  b.members.push_back(SegmentMember{"lapsed", 9, true});
  b.members.push_back(SegmentMember{"vip", 9, true});  // a repeat is one row
  ASSERT_TRUE(this->Commit(b).ok());
  EXPECT_EQ(this->Count("vip"), 4);
  EXPECT_EQ(this->Count("lapsed"), 1);
  EXPECT_EQ(this->Count("nobody"), 0);
  EXPECT_EQ(this->Members("vip"), (std::vector<ProfileId>{2, 5, 9, 14}));
  EXPECT_EQ(this->Members("vip", 0, 2), (std::vector<ProfileId>{2, 5}));
  EXPECT_EQ(this->Members("vip", 5, 2), (std::vector<ProfileId>{9, 14}));
  EXPECT_TRUE(this->Members("vip", 14, 2).empty());

  Batch drop;
  drop.members.push_back(SegmentMember{"vip", 5, false});
  drop.members.push_back(SegmentMember{"vip", 77, false});  // no such row: nothing happens
  ASSERT_TRUE(this->Commit(drop).ok());
  EXPECT_EQ(this->Members("vip"), (std::vector<ProfileId>{2, 9, 14}));
}

TYPED_TEST(SegmentContract, ARowOfAProfileThatDoesNotExistIsNotWritten) {
  Batch b;
  b.members.push_back(SegmentMember{"vip", 404, true});
  b.members.push_back(SegmentMember{"vip", 2, true});
  ASSERT_TRUE(this->Commit(b).ok());
  EXPECT_EQ(this->Members("vip"), (std::vector<ProfileId>{2}));
}

TYPED_TEST(SegmentContract, AProfileWrittenInTheSameBatchGetsItsRow) {
  Batch b;
  b.profiles.push_back(this->NewProfile(30, "k30"));
  b.members.push_back(SegmentMember{"vip", 30, true});
  ASSERT_TRUE(this->Commit(b).ok());
  EXPECT_EQ(this->Members("vip"), (std::vector<ProfileId>{30}));
}

TYPED_TEST(SegmentContract, ErasureDeletesEveryRowOfTheProfileEvenOneSetInTheSameBatch) {
  Batch b;
  b.members.push_back(SegmentMember{"vip", 9, true});
  b.members.push_back(SegmentMember{"lapsed", 9, true});
  b.members.push_back(SegmentMember{"vip", 2, true});
  ASSERT_TRUE(this->Commit(b).ok());
  Batch erase;
  erase.members.push_back(SegmentMember{"new", 9, true});
  erase.erasures.push_back(9);
  ASSERT_TRUE(this->Commit(erase).ok());
  EXPECT_EQ(this->Members("vip"), (std::vector<ProfileId>{2}));
  EXPECT_EQ(this->Count("lapsed"), 0);
  EXPECT_EQ(this->Count("new"), 0);
  auto rows = this->store_->MembershipsBetween(0, 100);
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<std::pair<ProfileId, std::string>>{{2, "vip"}}));
}

TYPED_TEST(SegmentContract, MembershipsBetweenReadsARangeOfProfilesInOrder) {
  Batch b;
  b.members.push_back(SegmentMember{"vip", 14, true});
  b.members.push_back(SegmentMember{"b", 5, true});
  b.members.push_back(SegmentMember{"a", 5, true});
  b.members.push_back(SegmentMember{"a", 2, true});
  b.members.push_back(SegmentMember{"a", 9, true});
  ASSERT_TRUE(this->Commit(b).ok());
  auto rows = this->store_->MembershipsBetween(5, 9);
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, (std::vector<std::pair<ProfileId, std::string>>{{5, "a"}, {5, "b"}, {9, "a"}}));
}

TYPED_TEST(SegmentContract, ADroppedSegmentLosesEveryRowBeforeTheBatchsOwnRows) {
  Batch b;
  b.members.push_back(SegmentMember{"old", 2, true});
  b.members.push_back(SegmentMember{"old", 5, true});
  b.members.push_back(SegmentMember{"kept", 5, true});
  ASSERT_TRUE(this->Commit(b).ok());
  Batch drop;
  drop.dropped_segments.push_back("old");
  drop.members.push_back(SegmentMember{"old", 14, true});  // applied after the drop
  ASSERT_TRUE(this->Commit(drop).ok());
  EXPECT_EQ(this->Members("old"), (std::vector<ProfileId>{14}));
  EXPECT_EQ(this->Members("kept"), (std::vector<ProfileId>{5}));
}

TYPED_TEST(SegmentContract, AFailedBatchWritesNoRow) {
  Batch b;
  b.members.push_back(SegmentMember{"vip", 2, true});
  b.profiles.push_back(this->NewProfile(5, "k-taken"));  // id taken: Conflict
  EXPECT_FALSE(this->Commit(b).ok());
  EXPECT_EQ(this->Count("vip"), 0);
}

}  // namespace
}  // namespace portrait::store
