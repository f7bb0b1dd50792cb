#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace portrait {
namespace {

TEST(IsValidUtf8, AcceptsAsciiAndWellFormedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("order.placed"));
  EXPECT_TRUE(IsValidUtf8("\xe5\xbc\xa0\xe4\xb8\x89"));      // 张三
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));                      // é
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));              // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));              // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));          // NUL is U+0000
}

TEST(IsValidUtf8, RefusesStrayTruncatedOverlongSurrogateAndTooLarge) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("/\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));               // continuation without a lead
  EXPECT_FALSE(IsValidUtf8("\xe5\xbc"));           // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));       // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));       // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));   // U+110000
  EXPECT_FALSE(IsValidUtf8("\xe5\x41\xa0"));       // bad continuation
  EXPECT_FALSE(IsValidUtf8("ok\xf0\x9f\x98"));     // truncated at the end
}

TEST(JsonNestsDeeperThan, CountsBracketsOutsideStringsOnly) {
  EXPECT_FALSE(JsonNestsDeeperThan(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_TRUE(JsonNestsDeeperThan(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_FALSE(JsonNestsDeeperThan(R"({"a":"[[[[[[[[{{{{"})", 1));
  EXPECT_FALSE(JsonNestsDeeperThan(R"({"a":"\"[[[[[["})", 1));   // escaped quote stays inside
  EXPECT_FALSE(JsonNestsDeeperThan(R"(["\\",[]])", 2));           // escaped backslash ends
  EXPECT_TRUE(JsonNestsDeeperThan(R"(["\\",[[]]])", 2));
  EXPECT_FALSE(JsonNestsDeeperThan("]]]]{}", 1));                  // stray closers don't go below 0
}

TEST(JsonNestsDeeperThan, ScansAMillionLevelsWithoutRecursion) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  EXPECT_TRUE(JsonNestsDeeperThan(deep, 64));
  EXPECT_FALSE(JsonNestsDeeperThan(deep, 1'000'000));
}

}  // namespace
}  // namespace portrait
