// OnDemandFields opens a sealed field the first time it is read, once, reads a field the
// profile lacks as missing, and reads one it cannot open as missing while marking itself failed.
#include "daemon/on_demand_fields.h"

#include <gtest/gtest.h>

#include "crypto/secret.h"
#include "store/profile_vault.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr store::ProfileId kProfile = 7;

class OnDemandFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitSodium().ok());
    auto key = crypto::SecretBytes::Random(32);
    ASSERT_TRUE(key);
    key_ = std::move(*key);
  }
  crypto::KeyView Key() const { return crypto::KeyView{key_.data(), key_.size()}; }
  std::string Sealed(store::ProfileId id, const std::string& name, const json& value) {
    auto sealed = store::ProfileVault::SealWith(Key(), id, name, value.dump());
    EXPECT_TRUE(sealed);
    return sealed ? *sealed : std::string();
  }
  crypto::SecretBytes key_;
};

TEST_F(OnDemandFieldsTest, OpensAFieldWhenReadAndOnlyOnce) {
  const std::map<std::string, std::string> envelopes = {
      {"city", Sealed(kProfile, "city", "Hangzhou")}, {"age", Sealed(kProfile, "age", 41)}};
  const OnDemandFields fields(Key(), kProfile, envelopes);
  const json* city = fields.Find("city");
  ASSERT_NE(city, nullptr);
  EXPECT_EQ(*city, "Hangzhou");
  EXPECT_EQ(fields.Find("city"), city);  // kept, not opened again
  const json* age = fields.Find("age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(*age, 41);
  EXPECT_EQ(fields.Find("gender"), nullptr);  // the profile has none
  EXPECT_FALSE(fields.failed());
}

TEST_F(OnDemandFieldsTest, AFieldThatCannotBeOpenedReadsAsMissingAndMarksTheSource) {
  // Sealed for another profile, under another name, or not an envelope at all.
  const std::map<std::string, std::string> envelopes = {
      {"city", Sealed(kProfile + 1, "city", "Hangzhou")},
      {"gender", Sealed(kProfile, "city", "female")},
      {"name", "not an envelope"},
      {"age", Sealed(kProfile, "age", 41)}};
  for (const char* name : {"city", "gender", "name"}) {
    const OnDemandFields fields(Key(), kProfile, envelopes);
    EXPECT_NE(fields.Find("age"), nullptr);
    EXPECT_FALSE(fields.failed());
    EXPECT_EQ(fields.Find(name), nullptr) << name;
    EXPECT_TRUE(fields.failed()) << name;
  }
}

}  // namespace
}  // namespace portrait::daemon
