// CheckPipeline: ranges read one after the other (each from where the last ended) and checked
// two at a time come out in range order, and a read that fails ends the walk with its error,
// after the ranges before it.
#include "daemon/check_pipeline.h"

#include <gtest/gtest.h>

#include <mutex>
#include <new>
#include <vector>

namespace portrait::daemon {
namespace {

constexpr store::ProfileId kLast = 10;  // profiles 1..10, three to a range

class CheckPipelineTest : public ::testing::Test {
 protected:
  // Profiles after `after`, up to three; a failure when `after` is fail_after_.
  Result<CheckInputs> Read(store::ProfileId after) {
    {
      std::lock_guard lock(mu_);
      reads_.push_back(after);
    }
    if (after == fail_after_) {
      return Error(Status::Unavailable("injected"));
    }
    if (after == throw_after_) {
      throw std::bad_alloc();
    }
    CheckInputs in;
    for (store::ProfileId id = after + 1; id <= std::min(after + 3, kLast); ++id) {
      store::PortraitInputs profile;
      profile.row.id = id;
      in.profiles.push_back(profile);
    }
    return in;
  }
  static ReevaluationCheck Check(const CheckInputs& in) {
    ReevaluationCheck check;
    check.last = in.profiles.back().row.id;
    check.checked = static_cast<int64_t>(in.profiles.size());
    check.changed.push_back(in.profiles.front().row.id);
    return check;
  }
  std::mutex mu_;
  std::vector<store::ProfileId> reads_;
  store::ProfileId fail_after_ = -1;
  store::ProfileId throw_after_ = -1;
};

TEST_F(CheckPipelineTest, RangesComeOutInOrderUntilNoneIsLeft) {
  std::vector<store::ProfileId> lasts;
  std::vector<store::ProfileId> firsts;
  {
    CheckPipeline checks([this](store::ProfileId after) { return Read(after); }, Check, 0);
    for (int i = 0; i < 6; ++i) {
      Result<ReevaluationCheck> check = checks.Next();
      ASSERT_TRUE(check) << check.error().ToString();
      lasts.push_back(check->last);
      if (check->last != 0) {
        firsts.push_back(check->changed.front());
      }
    }
  }
  EXPECT_EQ(lasts, (std::vector<store::ProfileId>{3, 6, 9, 10, 0, 0}));
  EXPECT_EQ(firsts, (std::vector<store::ProfileId>{1, 4, 7, 10}));
  // Each range read once, from where the one before ended; none after the empty one.
  EXPECT_EQ(reads_, (std::vector<store::ProfileId>{0, 3, 6, 9, 10}));
}

TEST_F(CheckPipelineTest, AFailedReadEndsTheWalkAfterTheRangesBeforeIt) {
  fail_after_ = 6;
  CheckPipeline checks([this](store::ProfileId after) { return Read(after); }, Check, 0);
  EXPECT_EQ(checks.Next()->last, 3);
  EXPECT_EQ(checks.Next()->last, 6);
  Result<ReevaluationCheck> failed = checks.Next();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Status::Code::kUnavailable);
  EXPECT_EQ(checks.Next()->last, 0);  // nothing read after it
}

// A read that throws (no memory) rethrows from the walk at its range, and the pipeline still
// ends: the ranges after it, waiting for where it ended, are told too.
TEST_F(CheckPipelineTest, AReadThatThrowsEndsTheWalkAndThePipeline) {
  throw_after_ = 3;
  {
    CheckPipeline checks([this](store::ProfileId after) { return Read(after); }, Check, 0);
    EXPECT_EQ(checks.Next()->last, 3);
    EXPECT_THROW((void)checks.Next(), std::bad_alloc);
  }  // returns: no range waits for ever
  EXPECT_EQ(reads_, (std::vector<store::ProfileId>{0, 3}));
}

}  // namespace
}  // namespace portrait::daemon
