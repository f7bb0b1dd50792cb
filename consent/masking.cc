#include "consent/masking.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <string_view>

namespace portrait::consent {
namespace {

constexpr const char* kRedacted = "***";

// Code points of UTF-8 text (a stray continuation byte counts as one).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

// The bytes of the first code point of `s`.
size_t FirstCodePointBytes(std::string_view s) {
  size_t first = s.empty() ? 0 : 1;
  while (first < s.size() && (static_cast<unsigned char>(s[first]) & 0xC0) == 0x80) {
    ++first;
  }
  return first;
}

std::string MaskPhone(const std::string& e164) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(e164, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
    return kRedacted;
  }
  std::string national;
  util.GetNationalSignificantNumber(number, &national);
  if (national.empty()) {
    return kRedacted;
  }
  const size_t shown = national.size() / 2;  // never more than half the digits
  const size_t head = std::min<size_t>(3, (shown + 1) / 2);
  const size_t tail = shown - head;
  return national.substr(0, head) + std::string(national.size() - shown, '*') +
         national.substr(national.size() - tail);
}

std::string MaskEmail(const std::string& email) {
  const size_t at = email.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == email.size()) {
    return kRedacted;
  }
  const std::string_view local = std::string_view(email).substr(0, at);
  const std::string_view domain = std::string_view(email).substr(at + 1);
  const size_t budget = CodePoints(email) / 2;  // characters that may be shown
  const size_t keep = CodePoints(local) >= 2 ? FirstCodePointBytes(local) : 0;
  size_t shown = 1 + (keep > 0 ? 1 : 0);  // '@' and the first character
  std::string out = std::string(local.substr(0, keep)) + "***@***";
  const size_t dot = domain.rfind('.');
  if (dot != std::string_view::npos && dot > 0) {
    std::string_view tld = domain.substr(dot);
    if (shown + CodePoints(tld) <= budget) {
      out += tld;
    }
  }
  return out;
}

std::string MaskName(const std::string& name) {
  const size_t code_points = CodePoints(name);
  if (code_points == 0) {
    return kRedacted;
  }
  if (code_points == 1) {
    return "*";
  }
  return name.substr(0, FirstCodePointBytes(name)) + std::string(code_points - 1, '*');
}

}  // namespace

std::string Mask(config::MaskKind kind, const nlohmann::json& value) {
  using config::MaskKind;
  if (kind == MaskKind::kRedact || !value.is_string()) {
    return kRedacted;
  }
  const std::string& s = value.get_ref<const std::string&>();
  switch (kind) {
    case MaskKind::kPhone:
      return MaskPhone(s);
    case MaskKind::kEmail:
      return MaskEmail(s);
    case MaskKind::kName:
      return MaskName(s);
    case MaskKind::kDate:
      return s.size() == 10 ? "--" + s.substr(5) : kRedacted;
    case MaskKind::kYear:
      return s.size() == 10 ? s.substr(0, 4) : kRedacted;
    case MaskKind::kRedact:
      break;
  }
  return kRedacted;
}

}  // namespace portrait::consent
