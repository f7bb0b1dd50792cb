#include "config/channel.h"

#include <string>
#include <utility>

namespace portrait::config {
namespace {

constexpr std::array<std::pair<Channel, std::string_view>, 6> kNames = {{
    {Channel::kAny, "any"},
    {Channel::kSms, "sms"},
    {Channel::kEmail, "email"},
    {Channel::kPhone, "phone"},
    {Channel::kWechat, "wechat"},
    {Channel::kPush, "push"},
}};

Result<Channel> Parse(std::string_view name, bool any_allowed, std::string_view prefix) {
  std::string options;
  for (const auto& [channel, n] : kNames) {
    if (channel == Channel::kAny && !any_allowed) {
      continue;
    }
    if (n == name) {
      return channel;
    }
    options += options.empty() ? "" : ", ";
    options += n;
  }
  return Error(Status::InvalidArgument(std::string(prefix) + "expected one of " + options));
}

}  // namespace

std::string_view ChannelName(Channel c) {
  for (const auto& [channel, name] : kNames) {
    if (channel == c) {
      return name;
    }
  }
  return "?";
}

Result<Channel> ParseChannel(std::string_view name) {
  return Parse(name, /*any_allowed=*/true, "channel: ");
}

Result<Channel> ParseTriggerChannel(std::string_view name) {
  return Parse(name, /*any_allowed=*/false, "");
}

}  // namespace portrait::config
