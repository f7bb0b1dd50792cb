#include "bench/scale_fixture.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace portrait::bench {

namespace {

using nlohmann::json;

// splitmix64: a well-mixed 64-bit value from (i, salt).
uint64_t Mix(int64_t i, uint64_t salt) {
  uint64_t z = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::array<const char*, 16> kSurnames = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵",
                                                   "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"};
constexpr std::array<const char*, 16> kGiven = {"芳", "伟", "娜", "敏", "静", "丽", "强", "磊",
                                                "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"};
constexpr std::array<const char*, 8> kCities = {"上海", "北京", "广州", "深圳",
                                                "成都", "杭州", "武汉", "南京"};
constexpr std::array<const char*, 3> kGenders = {"female", "male", "other"};

// YYYY-MM-DD of day `days` since 1970-01-01 (H. Hinnant's civil_from_days).
std::string Date(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char out[16];
  std::snprintf(out, sizeof out, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return out;
}

std::string Rfc3339(int64_t unix_s) {
  const std::time_t t = unix_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace

std::string CustomerId(int64_t i) { return "c" + std::to_string(i); }

std::string CustomerEmail(int64_t i) {
  return "user" + std::to_string(i) + "." + std::to_string(Mix(i, 7) % 1000) + "@mail" +
         std::to_string(Mix(i, 8) % 20) + ".example.cn";
}

json ImportRow(int64_t i) {
  const uint64_t h = Mix(i, 1);
  // 1950-01-01 is day -7305 and 2005-12-31 day 13148: 20,454 days, 14 of them 29 February.
  const int64_t birthday = -7305 + static_cast<int64_t>(Mix(i, 2) % 20454);
  char phone[24];
  std::snprintf(phone, sizeof phone, "+86138%08lld", static_cast<long long>(i % 100'000'000));
  return json{{"line", i + 2},
              {"id", CustomerId(i)},
              {"fields",
               {{"name", std::string(kSurnames[h % 16]) + kGiven[(h >> 8) % 16] +
                             ((h >> 16) % 2 ? kGiven[(h >> 20) % 16] : "")},
                {"phone", phone},
                {"email", CustomerEmail(i)},
                {"city", kCities[(h >> 24) % 8]},
                {"birthday", Date(birthday)},
                {"gender", kGenders[(h >> 28) % 3]}}}};
}

void AppendEvents(int64_t i, int64_t now_s, json& out) {
  const std::string id = CustomerId(i);
  for (int k = 0; k < 3; ++k) {
    const uint64_t h = Mix(i, 10 + k);
    const int64_t at = now_s - 60 - static_cast<int64_t>(h % (365 * 86400));
    json e = {{"id", "e" + std::to_string(i) + "-" + std::to_string(k)},
              {"subject", id},
              {"time", Rfc3339(at)}};
    if (k < 2) {
      e["type"] = "order.placed";
      e["data"] = {{"amount", 10 + static_cast<int>(h % 490)},
                   {"category", (h >> 32) % 2 ? "music" : "books"}};
    } else {
      e["type"] = "cart.updated";
      e["data"] = {{"items", 1 + static_cast<int>(h % 5)}};
    }
    out.push_back(std::move(e));
  }
}

json ConsentBody() {
  return {{"purpose", "marketing"}, {"channel", "sms"}, {"status", "granted"}, {"source", "bench"}};
}

// Ten segments over what profiles hold: metrics, fields, tags, the stage, another segment.
std::string SegmentRules(int threshold) {
  const std::string t = std::to_string(threshold);
  const char* conditions[kSegments] = {
      "metrics.orders >= $",
      "metrics.spent > $ * 10",
      "days_since(metrics.last_order) <= 30",
      "fields.city == 'Hangzhou' and metrics.orders >= $",
      "lifecycle == 'active' and metrics.spent > $",
      "has_tag('vip') or metrics.orders >= $ + 2",
      "fields.gender == 'female' and days_since(metrics.last_order) <= 90",
      "in_segment('s0') and metrics.spent > $ * 20",
      "not (metrics.orders >= $) and lifecycle == 'new'",
      "in_segment('s1') or in_segment('s2')",
  };
  std::string out;
  for (int i = 0; i < kSegments; ++i) {
    std::string when = conditions[i];
    for (size_t at = when.find('$'); at != std::string::npos; at = when.find('$')) {
      when.replace(at, 1, t);
    }
    out += "[[segment]]\nname = \"s" + std::to_string(i) + "\"\nwhen = \"" + when + "\"\n\n";
  }
  return out;
}

}  // namespace portrait::bench
