#include "daemon/request_limits.h"

#include <cmath>

#include "base/utf8.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

Status NotUtf8(const std::string& part) {
  return Status::InvalidArgument("malformed: " + part + " is not valid UTF-8");
}

Status CheckHeadersUtf8(const HttpRequest& request) {
  for (const auto& header : request.base()) {
    const std::string_view name(header.name_string().data(), header.name_string().size());
    const std::string_view value(header.value().data(), header.value().size());
    if (!IsValidUtf8(name)) {
      return NotUtf8("a header name");
    }
    if (!IsValidUtf8(value)) {
      return NotUtf8("header " + std::string(name));
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckRequestUtf8(const HttpRequest& request, const std::vector<std::string>& path,
                        const std::map<std::string, std::string>& query) {
  for (const std::string& segment : path) {
    if (!IsValidUtf8(segment)) {
      return NotUtf8("the path");
    }
  }
  for (const auto& [key, value] : query) {
    if (!IsValidUtf8(key)) {
      return NotUtf8("a query key");
    }
    if (!IsValidUtf8(value)) {
      return NotUtf8("query parameter " + key);
    }
  }
  PORTRAIT_RETURN_IF_ERROR(CheckHeadersUtf8(request));
  if (!IsValidUtf8(request.body())) {
    return NotUtf8("the body");
  }
  return Status::Ok();
}

Result<json> ParseJsonBody(std::string_view text) {
  if (JsonNestsDeeperThan(text, kMaxJsonDepth)) {
    return Error(Status::InvalidArgument("body: nests arrays and objects more than " +
                                         std::to_string(kMaxJsonDepth) + " deep"));
  }
  bool out_of_range = false;
  auto check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::value && parsed.is_number_float() &&
        !std::isfinite(parsed.get<double>())) {
      out_of_range = true;
    }
    return true;
  };
  json body = json::parse(text, check, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Error(Status::InvalidArgument("malformed: the body is not valid JSON"));
  }
  if (out_of_range) {
    return Error(Status::InvalidArgument(
        "body: a number is out of range (numbers must be finite, within ±1.7e308)"));
  }
  return body;
}

}  // namespace portrait::daemon
