#include "store/profile_ids.h"

#include <gtest/gtest.h>

#include <limits>

#include "store/store.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

ProfileWrite Inserted(ProfileId id) {
  ProfileWrite w;
  w.is_new = true;
  w.row.id = id;
  w.row.ext_key = "k" + std::to_string(id);
  return w;
}

// Ids follow the clock, stay increasing when it stands still or steps back, and never fall to
// the store's high-water mark: an id once inserted (then erased) is not given again.
TEST(ProfileIdAllocator, IdsIncreaseWithTheClockAndStayAboveTheStoresMark) {
  auto store = NewMemoryStore();
  FakeClock clock{TimePoint(std::chrono::seconds(1'800'000'000))};
  const ProfileId now = clock.NowUs();
  Batch batch;
  batch.profiles.push_back(Inserted(now + 1'000));  // made while the clock ran ahead
  batch.erasures.push_back(now + 1'000);
  ASSERT_TRUE(store->Commit(batch));

  ProfileIdAllocator ids(*store, clock);
  EXPECT_EQ(ids.Next("k").value(), now + 1'001);
  EXPECT_EQ(ids.Next("k").value(), now + 1'002);  // the clock stands still
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(ids.Next("k").value(), now + 1'000'000);
  ProfileIdAllocator after_restart(*store, clock);  // nothing new committed: the mark holds
  EXPECT_EQ(after_restart.Next("k").value(), now + 1'000'000);
}

// A database whose old random ids reached the top has no id left: an error, never an overflow.
TEST(ProfileIdAllocator, NoIdAboveTheLargestPossibleIsAnError) {
  auto store = NewMemoryStore();
  FakeClock clock{TimePoint(std::chrono::seconds(1'800'000'000))};
  Batch batch;
  batch.profiles.push_back(Inserted(std::numeric_limits<ProfileId>::max() - 1));
  ASSERT_TRUE(store->Commit(batch));
  ProfileIdAllocator ids(*store, clock);
  EXPECT_EQ(ids.Next("k").value(), std::numeric_limits<ProfileId>::max());
  EXPECT_FALSE(ids.Next("k"));
}

}  // namespace
}  // namespace portrait::store
