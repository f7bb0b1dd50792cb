#include "consent/masking.h"

#include <gtest/gtest.h>

#include "consent/access_policy.h"

namespace portrait::consent {
namespace {

using config::MaskKind;

TEST(Mask, EachKindShowsOnlyWhatItShould) {
  EXPECT_EQ(Mask(MaskKind::kPhone, "+8613812345678"), "138****5678");
  EXPECT_EQ(Mask(MaskKind::kPhone, "+12125550100"), "212***0100");
  EXPECT_EQ(Mask(MaskKind::kEmail, "zhang@example.com"), "z***@example.com");
  EXPECT_EQ(Mask(MaskKind::kEmail, "张伟@example.cn"), "张***@example.cn");
  EXPECT_EQ(Mask(MaskKind::kName, "张伟"), "张*");
  EXPECT_EQ(Mask(MaskKind::kName, "欧阳娜娜"), "欧***");
  EXPECT_EQ(Mask(MaskKind::kName, "Emma"), "E***");
  EXPECT_EQ(Mask(MaskKind::kName, "李"), "李*");
  EXPECT_EQ(Mask(MaskKind::kDate, "1990-02-28"), "--02-28");
  EXPECT_EQ(Mask(MaskKind::kYear, "1990-02-28"), "1990");
  EXPECT_EQ(Mask(MaskKind::kRedact, "anything"), "***");
  EXPECT_EQ(Mask(MaskKind::kRedact, 42), "***");
  EXPECT_EQ(Mask(MaskKind::kPhone, "garbage"), "***");
  EXPECT_EQ(Mask(MaskKind::kEmail, "no-at-sign"), "***");
}

TEST(AccessPolicy, IsTheIntersectionOfRoleAndPurpose) {
  config::Config c;
  config::Purpose marketing{"marketing", config::LawfulBasis::kConsent, {"name", "phone"}};
  config::Purpose care{"care", config::LawfulBasis::kContract, {"name", "city"}};
  c.purposes = {marketing, care};
  config::Role role;
  role.name = "agent";
  role.purposes = {"marketing", "care"};
  role.read = {"name", "city"};
  role.masked = {"phone"};
  role.can = {"profiles.read"};
  EXPECT_EQ(FieldAccess(role, marketing, "name"), Access::kClear);
  EXPECT_EQ(FieldAccess(role, marketing, "phone"), Access::kMasked);
  EXPECT_EQ(FieldAccess(role, marketing, "city"), Access::kWithheld);  // not marketing's
  EXPECT_EQ(FieldAccess(role, care, "city"), Access::kClear);
  EXPECT_EQ(FieldAccess(role, care, "phone"), Access::kWithheld);
  EXPECT_TRUE(HasPermission(role, "profiles.read"));
  EXPECT_FALSE(HasPermission(role, "erase"));

  EXPECT_EQ(ResolvePurpose(c, role, "care").value()->name, "care");
  EXPECT_EQ(ResolvePurpose(c, role, "").error().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ResolvePurpose(c, role, "service").error().code(), Status::Code::kPermissionDenied);
  role.purposes = {"care"};
  EXPECT_EQ(ResolvePurpose(c, role, "").value()->name, "care");
}

}  // namespace
}  // namespace portrait::consent
