// The channels a task is sent on and a consent record covers, and their names as they appear in
// rule files, the API and the store. The one list of channels: rules and consent both use it.
#pragma once

#include <array>
#include <string_view>

#include "base/result.h"

namespace portrait::config {

// kAny is a consent record's "every channel"; a trigger sends on one of the others.
enum class Channel { kAny, kSms, kEmail, kPhone, kWechat, kPush };

// Every channel, kAny first.
inline constexpr std::array<Channel, 6> kChannels = {Channel::kAny,    Channel::kSms,
                                                     Channel::kEmail,  Channel::kPhone,
                                                     Channel::kWechat, Channel::kPush};

// The channel's name, e.g. "sms", "any".
std::string_view ChannelName(Channel c);
// The channel `name` names, "any" included; InvalidArgument listing the accepted names when it
// names none.
Result<Channel> ParseChannel(std::string_view name);
// The channel a trigger sends on: any but "any"; InvalidArgument listing the accepted names.
Result<Channel> ParseTriggerChannel(std::string_view name);

}  // namespace portrait::config
