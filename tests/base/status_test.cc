#include "base/status.h"

#include <gtest/gtest.h>

#include "base/result.h"

namespace portrait {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) {
    return Error(Status::InvalidArgument("odd"));
  }
  return v / 2;
}

Result<int> Quarter(int v) {
  PORTRAIT_ASSIGN_OR_RETURN(int half, Half(v));
  PORTRAIT_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckQuarter(int v) {
  PORTRAIT_RETURN_IF_ERROR(Quarter(v));
  return Status::Ok();
}

TEST(Status, OkByDefaultAndNamedCodesOtherwise) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = Status::NotFound("profile 7");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: profile 7");
  EXPECT_EQ(s.WithContext("get").message(), "get: profile 7");
}

TEST(Result, MacrosPropagateTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  ASSERT_FALSE(Quarter(6).has_value());
  EXPECT_EQ(Quarter(6).error().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(CheckQuarter(12).ok());
  EXPECT_EQ(CheckQuarter(5).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace portrait
