// KnownSubjects: the I/O threads' memory of subjects' ids and data keys. An entry is found
// until its profile is forgotten; a lookup that started before a Forget is never kept; the
// cache stays bounded.
#include "daemon/known_subjects.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace portrait::daemon {
namespace {

std::array<uint8_t, 32> KeyBytes(uint8_t fill) {
  std::array<uint8_t, 32> k;
  k.fill(fill);
  return k;
}

crypto::KeyView View(const std::array<uint8_t, 32>& k) { return {k.data(), k.size()}; }

TEST(KnownSubjects, FindsWhatWasAddedWithACopyOfItsKey) {
  KnownSubjects known;
  auto key = KeyBytes(7);
  known.Add("ext-a", 41, View(key), known.Generation());
  key.fill(0);  // the cache holds its own copy
  auto entry = known.Find("ext-a");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->id, 41);
  const crypto::KeyView held = entry->key;
  ASSERT_EQ(held.size, 32u);
  EXPECT_EQ(held.data[0], 7);
  EXPECT_EQ(held.data[31], 7);
  EXPECT_EQ(known.Find("ext-b"), nullptr);
}

TEST(KnownSubjects, ForgetDropsEveryEntryOfTheProfileAndOnlyThose) {
  KnownSubjects known;
  const auto key = KeyBytes(1);
  known.Add("own", 5, View(key), known.Generation());
  known.Add("alias", 5, View(key), known.Generation());
  known.Add("other", 6, View(key), known.Generation());
  known.Forget(5);
  EXPECT_EQ(known.Find("own"), nullptr);
  EXPECT_EQ(known.Find("alias"), nullptr);
  ASSERT_NE(known.Find("other"), nullptr);
  known.ForgetAll();
  EXPECT_EQ(known.Find("other"), nullptr);
  EXPECT_EQ(known.size(), 0u);
}

// A lookup in the store that started before an erasure's Forget must not bring the erased
// profile's key back into memory.
TEST(KnownSubjects, ALookupOlderThanAForgetIsNotKept) {
  KnownSubjects known;
  const uint64_t before = known.Generation();
  known.Forget(9);
  known.Add("ext", 9, View(KeyBytes(3)), before);
  EXPECT_EQ(known.Find("ext"), nullptr);
  known.Add("ext", 9, View(KeyBytes(3)), known.Generation());
  EXPECT_NE(known.Find("ext"), nullptr);
}

TEST(KnownSubjects, AnEntryHeldStaysReadableAfterItIsDropped) {
  KnownSubjects known;
  known.Add("ext", 2, View(KeyBytes(4)), known.Generation());
  auto held = known.Find("ext");
  known.Forget(2);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(static_cast<crypto::KeyView>(held->key).data[5], 4);
}

TEST(KnownSubjects, StaysWithinItsCapacityAndRefusesAKeyOfTheWrongSize) {
  KnownSubjects known;
  const auto key = KeyBytes(8);
  for (size_t i = 0; i < KnownSubjects::kCapacity + 100; ++i) {
    known.Add("ext-" + std::to_string(i), static_cast<store::ProfileId>(i + 1), View(key),
              known.Generation());
  }
  EXPECT_EQ(known.size(), KnownSubjects::kCapacity);
  const std::string last = "ext-" + std::to_string(KnownSubjects::kCapacity + 99);
  EXPECT_NE(known.Find(last), nullptr);
  known.Add("short", 1, crypto::KeyView{key.data(), 16}, known.Generation());
  EXPECT_EQ(known.Find("short"), nullptr);
}

}  // namespace
}  // namespace portrait::daemon
