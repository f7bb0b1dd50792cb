#include "store/field_value.h"

#include <gtest/gtest.h>

namespace portrait::store {
namespace {

using config::Field;
using config::FieldType;
using nlohmann::json;

Field Make(FieldType type, std::vector<std::string> values = {}) {
  Field f;
  f.name = "f";
  f.type = type;
  f.values = std::move(values);
  return f;
}

TEST(CheckFieldValue, NormalisesPhonesToE164InTheConfiguredRegion) {
  auto cn = CheckFieldValue(Make(FieldType::kPhone), "138 1234 5678", "CN");
  ASSERT_TRUE(cn) << cn.error().ToString();
  EXPECT_EQ(cn->value, "+8613812345678");
  EXPECT_EQ(cn->index_key, "+8613812345678");
  auto intl = CheckFieldValue(Make(FieldType::kPhone), "+1 (212) 555-0100", "CN");
  ASSERT_TRUE(intl);
  EXPECT_EQ(intl->value, "+12125550100");
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kPhone), "12345", "CN"));
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kPhone), 13812345678, "CN"));
}

TEST(CheckFieldValue, EmailsAreTrimmedAndIndexedLowerCase) {
  auto e = CheckFieldValue(Make(FieldType::kEmail), "  Zhang.Wei@Example.COM ", "CN");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, "Zhang.Wei@Example.COM");
  EXPECT_EQ(e->index_key, "zhang.wei@example.com");
  for (const char* bad : {"zhang", "@example.com", "a@b", "a@@b.com", "a b@c.com", "a@b.com."}) {
    EXPECT_FALSE(CheckFieldValue(Make(FieldType::kEmail), bad, "CN")) << bad;
  }
}

TEST(CheckFieldValue, DatesMustExistOnTheCalendar) {
  EXPECT_TRUE(CheckFieldValue(Make(FieldType::kDate), "2000-02-29", "CN"));
  for (const char* bad :
       {"2001-02-29", "2000-13-01", "2000-1-01", "20000101", "2000-01-01x", "1899-12-31"}) {
    auto r = CheckFieldValue(Make(FieldType::kDate), bad, "CN");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("field 'f'"), std::string::npos);
    EXPECT_EQ(r.error().message().find(bad), std::string::npos);  // never echo the value
  }
}

TEST(CheckFieldValue, NumbersBoolsEnumsAndStrings) {
  EXPECT_EQ(CheckFieldValue(Make(FieldType::kNumber), 12.5, "CN")->value, 12.5);
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kNumber), "12", "CN"));
  EXPECT_EQ(CheckFieldValue(Make(FieldType::kBool), true, "CN")->value, true);
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kBool), 1, "CN"));
  EXPECT_TRUE(CheckFieldValue(Make(FieldType::kEnum, {"a", "b"}), "b", "CN"));
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kEnum, {"a", "b"}), "c", "CN"));
  EXPECT_EQ(CheckFieldValue(Make(FieldType::kString), " 张伟 ", "CN")->value, "张伟");
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kString), "   ", "CN"));
  EXPECT_FALSE(CheckFieldValue(Make(FieldType::kString), std::string(5000, 'x'), "CN"));
}

}  // namespace
}  // namespace portrait::store
