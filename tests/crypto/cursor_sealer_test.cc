#include "crypto/cursor_sealer.h"

#include <gtest/gtest.h>

#include <set>

namespace portrait::crypto {
namespace {

TEST(CursorSealer, APositionOpensOnlyWithItsContextAndNeverSealsTheSameTwice) {
  const CursorSealer sealer = CursorSealer::Create().value();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string c = sealer.Seal("marketing/buyers", 10'000);
    EXPECT_EQ(c.size(), CursorSealer::kCursorChars);
    EXPECT_EQ(
        c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_TRUE(seen.insert(c).second) << "a cursor repeated";
    EXPECT_EQ(sealer.Open("marketing/buyers", c).value(), 10'000u);
  }
  const std::string c = sealer.Seal("marketing/buyers", UINT64_MAX);
  EXPECT_EQ(sealer.Open("marketing/buyers", c).value(), UINT64_MAX);
  EXPECT_FALSE(sealer.Open("marketing/vip", c));                             // another context
  EXPECT_FALSE(CursorSealer::Create().value().Open("marketing/buyers", c));  // another process
}

TEST(CursorSealer, AnythingElseIsRefusedWithoutEchoingIt) {
  const CursorSealer sealer = CursorSealer::Create().value();
  std::string c = sealer.Seal("p/s", 42);
  for (size_t i = 0; i < c.size(); ++i) {  // every single altered character
    std::string altered = c;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(sealer.Open("p/s", altered)) << i;
  }
  for (const std::string bad :
       {std::string(), std::string("42"), c + "A", c.substr(1), std::string(64, '='),
        std::string(64, '\0'), std::string(64, '\xff'), std::string(100000, 'A')}) {
    auto opened = sealer.Open("p/s", bad);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().ToString().find(bad.empty() ? "\x01" : bad.substr(0, 8)),
              std::string::npos);
  }
}

}  // namespace
}  // namespace portrait::crypto
