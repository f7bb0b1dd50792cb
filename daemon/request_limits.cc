#include "daemon/request_limits.h"

#include "base/utf8.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

Status NotUtf8(const std::string& part) { return Status::Malformed(part + " is not valid UTF-8"); }

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
  // nlohmann refuses a number that overflows a double (out_of_range 406) apart from syntax
  // errors; both are caught here, so no exception leaves.
  try {
    return json::parse(text);
  } catch (const json::out_of_range&) {
    return Error(Status::InvalidArgument(
        "body: a number is out of range (numbers must be finite, within ±1.7e308)"));
  } catch (const json::exception&) {
    return Error(Status::Malformed("the body is not valid JSON"));
  }
}

}  // namespace portrait::daemon
