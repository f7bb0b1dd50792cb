#include "crypto/field_cipher.h"

#include <gtest/gtest.h>

namespace portrait::crypto {
namespace {

class FieldCipherTest : public ::testing::Test {
 protected:
  SecretBytes key_ = SecretBytes::Random(32).value();
  std::string ad_ = FieldCipher::AssociatedData(42, "phone");
};

TEST_F(FieldCipherTest, RoundTripsAndRecordsTheKeyId) {
  auto sealed = FieldCipher::Seal(key_, 7, ad_, "+8613812345678");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), FieldCipher::kOverhead + 14);
  EXPECT_EQ(sealed->find("13812345678"), std::string::npos);
  EXPECT_EQ(FieldCipher::KeyId(*sealed).value(), 7u);
  EXPECT_EQ(FieldCipher::Open(key_, ad_, *sealed).value(), "+8613812345678");
}

TEST_F(FieldCipherTest, SameValueSealsDifferentlyEachTime) {
  EXPECT_NE(FieldCipher::Seal(key_, 1, ad_, "x").value(),
            FieldCipher::Seal(key_, 1, ad_, "x").value());
}

TEST_F(FieldCipherTest, RejectsSwappedAssociatedData) {
  std::string sealed = FieldCipher::Seal(key_, 1, ad_, "secret").value();
  auto other_profile = FieldCipher::Open(key_, FieldCipher::AssociatedData(43, "phone"), sealed);
  auto other_field = FieldCipher::Open(key_, FieldCipher::AssociatedData(42, "email"), sealed);
  ASSERT_FALSE(other_profile);
  ASSERT_FALSE(other_field);
  EXPECT_EQ(other_profile.error().code(), Status::Code::kCorruption);
  EXPECT_EQ(other_field.error().code(), Status::Code::kCorruption);
}

TEST_F(FieldCipherTest, RejectsEveryFlippedByte) {
  std::string sealed = FieldCipher::Seal(key_, 1, ad_, "secret value").value();
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_FALSE(FieldCipher::Open(key_, ad_, bad)) << "byte " << i;
  }
}

TEST_F(FieldCipherTest, RejectsTheWrongKeyAndTruncation) {
  std::string sealed = FieldCipher::Seal(key_, 1, ad_, "secret").value();
  SecretBytes other = SecretBytes::Random(32).value();
  EXPECT_FALSE(FieldCipher::Open(other, ad_, sealed));
  EXPECT_FALSE(FieldCipher::Open(key_, ad_, sealed.substr(0, FieldCipher::kOverhead - 1)));
  EXPECT_FALSE(FieldCipher::Open(key_, ad_, ""));
}

TEST_F(FieldCipherTest, AssociatedDataSeparatesProfileIdFromFieldName) {
  EXPECT_NE(FieldCipher::AssociatedData(1, "ab"), FieldCipher::AssociatedData(1, "a"));
  EXPECT_NE(FieldCipher::AssociatedData(256, "x"), FieldCipher::AssociatedData(1, "x"));
}

}  // namespace
}  // namespace portrait::crypto
