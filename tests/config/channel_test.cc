// The one list of channels and its names.
#include "config/channel.h"

#include <gtest/gtest.h>

#include <string>

namespace portrait::config {
namespace {

TEST(Channel, NamesRoundTrip) {
  std::string names;
  for (Channel c : kChannels) {
    EXPECT_EQ(ParseChannel(ChannelName(c)).value(), c);
    names += std::string(names.empty() ? "" : " ") + std::string(ChannelName(c));
  }
  EXPECT_EQ(names, "any sms email phone wechat push");
}

TEST(Channel, UnknownNamesAreRefusedListingTheKnownOnes) {
  for (std::string_view bad : {"", "fax", "SMS", "sms "}) {
    auto parsed = ParseChannel(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(parsed.error().message(),
              "channel: expected one of any, sms, email, phone, wechat, push");
  }
}

TEST(Channel, ATriggerSendsOnAnyChannelButAny) {
  for (Channel c : kChannels) {
    auto parsed = ParseTriggerChannel(ChannelName(c));
    if (c == Channel::kAny) {
      ASSERT_FALSE(parsed);
      EXPECT_EQ(parsed.error().message(), "expected one of sms, email, phone, wechat, push");
    } else {
      EXPECT_EQ(parsed.value(), c);
    }
  }
}

}  // namespace
}  // namespace portrait::config
