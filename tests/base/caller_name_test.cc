#include "base/caller_name.h"

#include <gtest/gtest.h>

namespace portrait {
namespace {

TEST(CallerName, OnlyANameThatLooksLikeOneIsRepeated) {
  EXPECT_EQ(QuotedCallerName("shoe_size"), "'shoe_size'");
  EXPECT_EQ(CallerNameLabel("order.total-2"), "order.total-2");
  // A file keyed by email, a phone number, a name in Chinese, a NUL: described, never repeated.
  for (std::string_view value :
       {std::string_view("ann@example.com"), std::string_view("+86 138"), std::string_view("张伟"),
        std::string_view("a\0b", 3), std::string_view("")}) {
    const std::string quoted = QuotedCallerName(value);
    EXPECT_EQ(quoted, "(a " + std::to_string(value.size()) + "-byte name, not shown)");
    EXPECT_EQ(CallerNameLabel(value), "(not shown)");
  }
  EXPECT_FALSE(LooksLikeAName(std::string(65, 'a')));
  EXPECT_TRUE(LooksLikeAName(std::string(64, 'a')));
}

}  // namespace
}  // namespace portrait
