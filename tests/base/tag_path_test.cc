#include "base/tag_path.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portrait {
namespace {

TEST(CheckTagPath, AllowsOneToThreeLevels) {
  EXPECT_TRUE(CheckTagPath("vip").ok());
  EXPECT_TRUE(CheckTagPath("interest/sports/running").ok());
  EXPECT_TRUE(CheckTagPath("价值/高").ok());
  EXPECT_TRUE(CheckTagPath(std::string(64, 'a')).ok());
}

TEST(CheckTagPath, RefusesEmptyLongSpacedOrDeepPathsWithoutRepeatingThem) {
  const std::vector<std::string> bad_paths = {"a/b/c/d",
                                              "a//b",
                                              "",
                                              "/a",
                                              "a/",
                                              "has space",
                                              "tab\there",
                                              std::string("nul\0byte", 8),
                                              std::string(65, 'a')};
  for (const std::string& bad : bad_paths) {
    const Status s = CheckTagPath(bad);
    ASSERT_FALSE(s.ok()) << bad.size();
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    if (!bad.empty()) {
      EXPECT_EQ(s.message().find(bad), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace portrait
