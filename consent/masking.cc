#include "consent/masking.h"

#include <phonenumbers/phonenumberutil.h>

namespace portrait::consent {
namespace {

constexpr const char* kRedacted = "***";

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
  if (national.size() < 8) {
    return kRedacted;
  }
  return national.substr(0, 3) + std::string(national.size() - 7, '*') +
         national.substr(national.size() - 4);
}

std::string MaskEmail(const std::string& email) {
  auto at = email.find('@');
  if (at == std::string::npos || at == 0) {
    return kRedacted;
  }
  size_t first = 1;  // keep the first character, whole if it is multi-byte UTF-8
  while (first < at && (static_cast<unsigned char>(email[first]) & 0xC0) == 0x80) {
    ++first;
  }
  return email.substr(0, first) + "***" + email.substr(at);
}

std::string MaskName(const std::string& name) {
  std::string out;
  size_t code_points = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    bool starts = (static_cast<unsigned char>(name[i]) & 0xC0) != 0x80;
    if (starts) {
      ++code_points;
    }
    if (code_points == 1) {
      out += name[i];
    }
  }
  if (code_points == 0) {
    return kRedacted;
  }
  return out + std::string(std::max<size_t>(code_points - 1, 1), '*');
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
