#include "daemon/cloud_event.h"

#include <algorithm>

#include "base/time_format.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

bool IsTypeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsPrintable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// A required or optional string member of 1..max_len printable bytes.
Result<std::string> StringMember(const json& event, const std::string& where, const char* name,
                                 size_t max_len, bool required) {
  auto it = event.find(name);
  if (it == event.end()) {
    if (required) {
      return Error(Status::InvalidArgument(where + name + ": required"));
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Error(Status::InvalidArgument(where + name + ": expected a string"));
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_len || !IsPrintable(s)) {
    return Error(Status::InvalidArgument(where + name + ": expected 1-" + std::to_string(max_len) +
                                         " bytes without control characters"));
  }
  return s;
}

Result<IncomingEvent> ParseOne(const json& event, const std::string& where, int64_t now_us,
                               const crypto::BlindIndex& blind, int64_t max_future_us) {
  if (!event.is_object()) {
    std::string at = where.empty() ? "body" : where.substr(0, where.size() - 1);
    return Error(Status::InvalidArgument(at + ": expected a CloudEvent object"));
  }
  IncomingEvent e;
  PORTRAIT_ASSIGN_OR_RETURN(e.id, StringMember(event, where, "id", 256, true));
  PORTRAIT_ASSIGN_OR_RETURN(e.type, StringMember(event, where, "type", 128, true));
  if (!std::all_of(e.type.begin(), e.type.end(), IsTypeChar)) {
    return Error(Status::InvalidArgument(where + "type: use letters, digits, '.', '_' and '-'"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(e.subject, StringMember(event, where, "subject", 256, true));
  PORTRAIT_ASSIGN_OR_RETURN(std::string spec, StringMember(event, where, "specversion", 16, false));
  if (!spec.empty() && spec != "1.0") {
    return Error(Status::InvalidArgument(where + "specversion: only CloudEvents 1.0 is accepted"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::string time, StringMember(event, where, "time", 64, false));
  e.time_us = now_us;
  if (!time.empty()) {
    auto parsed = ParseRfc3339(time);
    if (!parsed) {
      return Error(Status::InvalidArgument(where + "time: expected an RFC 3339 time"));
    }
    if (*parsed < 0 || *parsed - now_us > max_future_us) {
      return Error(Status::InvalidArgument(where +
                                           "time: outside the accepted window, from 1970 to " +
                                           std::to_string(max_future_us / 3'600'000'000) +
                                           " hours after now ([daemon] event_future)"));
    }
    e.time_us = *parsed;
  }
  if (auto it = event.find("data"); it != event.end() && !it->is_null()) {
    if (!it->is_object()) {
      return Error(Status::InvalidArgument(where + "data: expected a JSON object"));
    }
    e.data = *it;
  }
  e.key = blind.Digest("$event_id", e.id);
  return e;
}

}  // namespace

Result<std::vector<IncomingEvent>> ParseCloudEvents(const json& body, int64_t now_us,
                                                    const crypto::BlindIndex& blind,
                                                    int64_t max_future_us) {
  std::vector<IncomingEvent> out;
  if (!body.is_array()) {
    PORTRAIT_ASSIGN_OR_RETURN(IncomingEvent e, ParseOne(body, "", now_us, blind, max_future_us));
    out.push_back(std::move(e));
    return out;
  }
  if (body.empty() || body.size() > kMaxEventsPerRequest) {
    return Error(Status::InvalidArgument("expected 1-" + std::to_string(kMaxEventsPerRequest) +
                                         " events in the array"));
  }
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(IncomingEvent e, ParseOne(body[i], "[" + std::to_string(i) + "].",
                                                        now_us, blind, max_future_us));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace portrait::daemon
