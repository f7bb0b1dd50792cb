#include "store/field_value.h"

#include <date/date.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cmath>

namespace portrait::store {
namespace {

using nlohmann::json;
constexpr size_t kMaxStringBytes = 4096;

std::string Trim(std::string_view s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  auto b = std::find_if(s.begin(), s.end(), not_space);
  auto e = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return b < e ? std::string(b, e) : std::string();
}

Result<CheckedValue> Bad(const config::Field& field, std::string_view rule) {
  return Error(Status::InvalidArgument("field '" + field.name + "': " + std::string(rule)));
}

Result<CheckedValue> CheckPhone(const config::Field& field, const std::string& text,
                                std::string_view region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(text, std::string(region), &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util.IsValidNumber(number)) {
    return Bad(field,
               "not a valid phone number (use E.164 such as +8613812345678, or a "
               "national number of the configured phone_region)");
  }
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return CheckedValue{e164, e164};
}

Result<CheckedValue> CheckEmail(const config::Field& field, const std::string& text) {
  auto at = text.find('@');
  bool ok = text.size() <= 254 && at != std::string::npos && at > 0 &&
            text.find('@', at + 1) == std::string::npos &&
            text.find('.', at + 2) != std::string::npos && text.back() != '.' &&
            std::none_of(text.begin(), text.end(),
                         [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
  if (!ok) {
    return Bad(field, "not a valid email address (expected local@domain.tld)");
  }
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return CheckedValue{text, lower};
}

Result<CheckedValue> CheckDate(const config::Field& field, const std::string& text) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  char tail = 0;
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-' &&
               std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) == 3;
  if (!shape || !date::year_month_day(date::year(y), date::month(m), date::day(d)).ok() ||
      y < 1900) {
    return Bad(field, "expected a real calendar date YYYY-MM-DD (1900 or later)");
  }
  return CheckedValue{text, text};
}

}  // namespace

Result<CheckedValue> CheckFieldValue(const config::Field& field, const json& value,
                                     std::string_view phone_region) {
  using config::FieldType;
  switch (field.type) {
    case FieldType::kNumber:
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        return Bad(field, "expected a number");
      }
      return CheckedValue{value, value.dump()};
    case FieldType::kBool:
      if (!value.is_boolean()) {
        return Bad(field, "expected true or false");
      }
      return CheckedValue{value, value.dump()};
    default:
      break;
  }
  if (!value.is_string()) {
    return Bad(field, "expected a string (" + std::string(config::FieldTypeName(field.type)) + ")");
  }
  std::string text = Trim(value.get<std::string>());
  if (text.empty() || text.size() > kMaxStringBytes) {
    return Bad(field, "must be 1 to 4096 bytes after trimming (send null to remove the field)");
  }
  switch (field.type) {
    case FieldType::kPhone:
      return CheckPhone(field, text, phone_region);
    case FieldType::kEmail:
      return CheckEmail(field, text);
    case FieldType::kDate:
      return CheckDate(field, text);
    case FieldType::kEnum:
      if (std::find(field.values.begin(), field.values.end(), text) == field.values.end()) {
        return Bad(field, "not one of the enum's declared values");
      }
      return CheckedValue{text, text};
    default:
      return CheckedValue{text, text};
  }
}

}  // namespace portrait::store
