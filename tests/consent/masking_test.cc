#include "consent/masking.h"

#include <gtest/gtest.h>

#include "consent/access_policy.h"

namespace portrait::consent {
namespace {

using config::MaskKind;

TEST(Mask, EachKindShowsOnlyWhatItShould) {
  EXPECT_EQ(Mask(MaskKind::kPhone, "+8613812345678"), "138******78");
  EXPECT_EQ(Mask(MaskKind::kPhone, "+12125550100"), "212*****00");
  EXPECT_EQ(Mask(MaskKind::kEmail, "zhang@example.com"), "z***@***.com");
  EXPECT_EQ(Mask(MaskKind::kEmail, "张伟@example.cn"), "张***@***.cn");
  EXPECT_EQ(Mask(MaskKind::kEmail, "a@b.cn"), "***@***");
  EXPECT_EQ(Mask(MaskKind::kName, "张伟"), "张*");
  EXPECT_EQ(Mask(MaskKind::kName, "欧阳娜娜"), "欧***");
  EXPECT_EQ(Mask(MaskKind::kName, "Emma"), "E***");
  EXPECT_EQ(Mask(MaskKind::kName, "李"), "*");
  EXPECT_EQ(Mask(MaskKind::kDate, "1990-02-28"), "--02-28");
  EXPECT_EQ(Mask(MaskKind::kYear, "1990-02-28"), "1990");
  EXPECT_EQ(Mask(MaskKind::kRedact, "anything"), "***");
  EXPECT_EQ(Mask(MaskKind::kRedact, 42), "***");
  EXPECT_EQ(Mask(MaskKind::kPhone, "garbage"), "***");
  EXPECT_EQ(Mask(MaskKind::kEmail, "no-at-sign"), "***");
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

// How many characters of the value a mask shows: every character that is not a star (the
// year-less date form's leading "--" is notation, not the value's).
size_t Shown(MaskKind kind, const std::string& mask) {
  size_t shown = 0;
  for (unsigned char c : mask) {
    shown += (c & 0xC0) != 0x80 && c != '*' ? 1 : 0;
  }
  return kind == MaskKind::kDate && mask.rfind("--", 0) == 0 ? shown - 2 : shown;
}

// A value of `length` characters of the shape `kind` expects (as far as the length allows).
std::string ValueOfLength(MaskKind kind, size_t length) {
  const std::string digits = "81234567890123456789012";
  switch (kind) {
    case MaskKind::kPhone:
      return length == 0 ? "" : "+" + digits.substr(0, length - 1);
    case MaskKind::kEmail: {
      if (length < 3) {
        return std::string(length, 'a');
      }
      std::string domain = length >= 6 ? "b.cn" : "b";
      std::string local(std::max<size_t>(1, length - 1 - domain.size()), 'a');
      return (local + "@" + domain).substr(0, std::max(length, local.size() + 2));
    }
    case MaskKind::kDate:
    case MaskKind::kYear:
      return std::string("1990-02-28-extra-text").substr(0, length);
    default:
      return std::string("Emma Stone Markername").substr(0, length);
  }
}

TEST(Mask, HidesAtLeastHalfOfEveryValueFromLengthZeroToTwenty) {
  for (MaskKind kind : {MaskKind::kRedact, MaskKind::kPhone, MaskKind::kEmail, MaskKind::kName,
                        MaskKind::kDate, MaskKind::kYear}) {
    for (size_t length = 0; length <= 20; ++length) {
      const std::string value = ValueOfLength(kind, length);
      const std::string mask = Mask(kind, value);
      EXPECT_LE(Shown(kind, mask) * 2, CodePoints(value))
          << "kind " << static_cast<int>(kind) << " value '" << value << "' mask '" << mask << "'";
    }
  }
  // Multi-byte names and emails count characters, not bytes.
  for (const std::string value : {"李", "张伟", "欧阳娜娜", "张伟@例子.中国", "伟@x.cn"}) {
    for (MaskKind kind : {MaskKind::kName, MaskKind::kEmail}) {
      EXPECT_LE(Shown(kind, Mask(kind, value)) * 2, CodePoints(value)) << value;
    }
  }
}

TEST(AccessPolicy, IsTheIntersectionOfRoleAndPurpose) {
  config::Config c;
  config::Purpose marketing{
      .name = "marketing", .basis = config::LawfulBasis::kConsent, .fields = {"name", "phone"}};
  config::Purpose care{
      .name = "care", .basis = config::LawfulBasis::kContract, .fields = {"name", "city"}};
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
