#include "crypto/blind_index.h"

#include <gtest/gtest.h>

namespace portrait::crypto {
namespace {

TEST(BlindIndex, IsKeyedTruncatedAndSeparatedByField) {
  SecretBytes key = SecretBytes::Random(32).value();
  auto index = BlindIndex::Create(key, 12).value();
  std::string d = index.Digest("email", "zhang@example.com");
  EXPECT_EQ(d.size(), 12u);
  EXPECT_EQ(d, index.Digest("email", "zhang@example.com"));
  EXPECT_NE(d, index.Digest("email", "wang@example.com"));
  EXPECT_NE(d, index.Digest("phone", "zhang@example.com"));
  auto other = BlindIndex::Create(SecretBytes::Random(32).value(), 12).value();
  EXPECT_NE(d, other.Digest("email", "zhang@example.com"));
  EXPECT_FALSE(BlindIndex::Create(key, 7));
  EXPECT_FALSE(BlindIndex::Create(key, 33));
}

}  // namespace
}  // namespace portrait::crypto
