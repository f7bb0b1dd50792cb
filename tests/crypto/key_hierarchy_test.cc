#include "crypto/key_hierarchy.h"

#include <gtest/gtest.h>

#include <set>

namespace portrait::crypto {
namespace {

TEST(KeyHierarchy, EverySubkeyIsDistinctAndDeterministic) {
  SecretBytes master = SecretBytes::Random(32).value();
  auto a = KeyHierarchy::Create(master).value();
  auto b = KeyHierarchy::Create(master).value();
  std::set<std::string_view> keys = {a.portrait_db_key().view(), a.keystore_db_key().view(),
                                     a.blind_index_key().view(), a.audit_seed().view(),
                                     master.view()};
  EXPECT_EQ(keys.size(), 5u);
  EXPECT_EQ(a.portrait_db_key().view(), b.portrait_db_key().view());
  EXPECT_EQ(a.audit_seed().view(), b.audit_seed().view());
}

TEST(KeyHierarchy, DataKeysAreRandomAndWrapToTheirProfile) {
  auto h = KeyHierarchy::Create(SecretBytes::Random(32).value()).value();
  SecretBytes k1 = KeyHierarchy::NewDataKey().value();
  SecretBytes k2 = KeyHierarchy::NewDataKey().value();
  EXPECT_NE(k1.view(), k2.view());
  std::string wrapped = h.WrapDataKey(11, k1).value();
  EXPECT_EQ(wrapped.find(k1.view()), std::string::npos);
  EXPECT_EQ(h.UnwrapDataKey(11, wrapped).value().view(), k1.view());
  EXPECT_FALSE(h.UnwrapDataKey(12, wrapped));  // another profile's slot
  auto other = KeyHierarchy::Create(SecretBytes::Random(32).value()).value();
  EXPECT_FALSE(other.UnwrapDataKey(11, wrapped));  // another master key
}

TEST(KeyHierarchy, RejectsAMasterKeyOfTheWrongSize) {
  EXPECT_FALSE(KeyHierarchy::Create(SecretBytes::Random(31).value()));
}

}  // namespace
}  // namespace portrait::crypto
