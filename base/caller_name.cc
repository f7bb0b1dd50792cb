#include "base/caller_name.h"

namespace portrait {

bool LooksLikeAName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string QuotedCallerName(std::string_view name) {
  if (LooksLikeAName(name)) {
    return "'" + std::string(name) + "'";
  }
  return "(a " + std::to_string(name.size()) + "-byte name, not shown)";
}

std::string CallerNameLabel(std::string_view name) {
  return LooksLikeAName(name) ? std::string(name) : "(not shown)";
}

}  // namespace portrait
