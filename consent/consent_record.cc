#include "consent/consent_record.h"

#include <array>
#include <utility>

namespace portrait::consent {
namespace {

template <typename E, size_t N>
Result<E> Parse(std::string_view name, const std::array<std::pair<std::string_view, E>, N>& table,
                std::string_view what) {
  std::string options;
  for (const auto& [n, value] : table) {
    if (n == name) {
      return value;
    }
    options += options.empty() ? "" : ", ";
    options += n;
  }
  return Error(Status::InvalidArgument(std::string(what) + ": expected one of " + options));
}

template <typename E, size_t N>
std::string_view Name(E value, const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [n, v] : table) {
    if (v == value) {
      return n;
    }
  }
  return "?";
}

constexpr std::array<std::pair<std::string_view, ConsentStatus>, 3> kStatuses = {{
    {"granted", ConsentStatus::kGranted},
    {"withdrawn", ConsentStatus::kWithdrawn},
    {"objected", ConsentStatus::kObjected},
}};
constexpr std::array<std::pair<std::string_view, ConsentScope>, 3> kScopes = {{
    {"processing", ConsentScope::kProcessing},
    {"sensitive", ConsentScope::kSensitive},
    {"transfer", ConsentScope::kTransfer},
}};

}  // namespace

std::string_view StatusName(ConsentStatus s) { return Name(s, kStatuses); }
std::string_view ScopeName(ConsentScope s) { return Name(s, kScopes); }
Result<ConsentStatus> ParseStatus(std::string_view name) {
  return Parse(name, kStatuses, "status");
}
Result<ConsentScope> ParseScope(std::string_view name) { return Parse(name, kScopes, "scope"); }

}  // namespace portrait::consent
