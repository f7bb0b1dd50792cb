#include "base/utf8.h"

namespace portrait {
namespace {

// The length of the sequence that `lead` starts and the allowed range of its second byte
// (RFC 3629 table 3-7); 0 when `lead` can't start a sequence.
struct Lead {
  int length;
  unsigned char low, high;
};

Lead LeadOf(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};            // no overlong forms
  if (b == 0xED) return {3, 0x80, 0x9F};            // no surrogates
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};            // no overlong forms
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};            // nothing past U+10FFFF
  return {0, 0, 0};
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const Lead lead = LeadOf(p[i]);
    if (lead.length == 0 || n - i < static_cast<size_t>(lead.length)) {
      return false;
    }
    if (lead.length > 1 && (p[i + 1] < lead.low || p[i + 1] > lead.high)) {
      return false;
    }
    for (int k = 2; k < lead.length; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
        return false;
      }
    }
    i += lead.length;
  }
  return true;
}

bool JsonNestsDeeperThan(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        return true;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace portrait
