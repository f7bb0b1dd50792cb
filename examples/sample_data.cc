#include "examples/sample_data.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <vector>

namespace portrait::examples {
namespace {

// splitmix64: a tiny, well-distributed generator whose output is the same everywhere (std::
// distributions are not portable across standard libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Below(static_cast<int>(N)))];
  }

 private:
  uint64_t state_;
};

struct City {
  std::string_view name;
  std::string_view timezone;
  std::string_view region;  // phone numbering region
};

constexpr std::array<City, 10> kCities = {{
    {"上海", "Asia/Shanghai", "CN"},
    {"北京", "Asia/Shanghai", "CN"},
    {"杭州", "Asia/Shanghai", "CN"},
    {"成都", "Asia/Shanghai", "CN"},
    {"深圳", "Asia/Shanghai", "CN"},
    {"广州", "Asia/Shanghai", "CN"},
    {"New York", "America/New_York", "US"},
    {"London", "Europe/London", "GB"},
    {"Auckland", "Pacific/Auckland", "NZ"},
    {"Berlin", "Europe/Berlin", "DE"},
}};
constexpr std::array<std::string_view, 12> kSurnames = {"王", "李", "张", "刘", "陈", "杨",
                                                        "黄", "赵", "吴", "周", "徐", "孙"};
constexpr std::array<std::string_view, 12> kGiven = {"伟", "芳", "娜", "敏", "静", "丽",
                                                     "强", "磊", "洋", "艳", "勇", "军"};
constexpr std::array<std::string_view, 12> kPinyin = {
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun"};
constexpr std::array<std::string_view, 10> kLatinFirst = {
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sophie", "James"};
constexpr std::array<std::string_view, 10> kLatinLast = {"Smith",  "Müller",  "Brown",  "Taylor",
                                                         "Wilson", "Schmidt", "Walker", "Clarke",
                                                         "Hughes", "Baker"};
constexpr std::array<std::string_view, 6> kInterests = {
    "interest/music/jazz",    "interest/music/rock", "interest/sports/running",
    "interest/sports/tennis", "interest/books",      "channel/app"};

std::string Digits(Rng& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += static_cast<char>('0' + rng.Below(10));
  }
  return out;
}

// A number valid under libphonenumber's rules for `region`, in that region's own format.
std::string Phone(Rng& rng, std::string_view region) {
  if (region == "CN") {
    static constexpr std::array<std::string_view, 6> kPrefixes = {"138", "139", "150",
                                                                  "186", "177", "135"};
    return std::string(rng.Pick(kPrefixes)) + Digits(rng, 8);
  }
  if (region == "US") {
    return "+1 212 555 01" + Digits(rng, 2);
  }
  if (region == "GB") {
    return "+44 20 7946 0" + Digits(rng, 3);
  }
  if (region == "NZ") {
    return "+64 21 " + std::to_string(200 + rng.Below(700)) + " " + Digits(rng, 4);
  }
  return "+49 30 " + std::to_string(2000 + rng.Below(7000)) + Digits(rng, 4);
}

std::string Birthday(Rng& rng, int index) {
  char buf[48];  // room for any three ints, so the compiler can see nothing is cut
  if (index % 40 == 7) {
    static constexpr std::array<int, 6> kLeapYears = {1972, 1980, 1988, 1992, 2000, 2004};
    std::snprintf(buf, sizeof buf, "%04d-02-29", rng.Pick(kLeapYears));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", 1950 + rng.Below(56), 1 + rng.Below(12),
                  1 + rng.Below(28));
  }
  return buf;
}

std::string Rfc3339(int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr int64_t kHourUs = 3'600'000'000;
constexpr int64_t kTwoYearsUs = 730 * 24 * kHourUs;

nlohmann::json Consents(Rng& rng, int64_t now_us) {
  nlohmann::json out = nlohmann::json::array();
  auto record = [&](const char* purpose, const char* channel, const char* status, int64_t at) {
    out.push_back({{"purpose", purpose},
                   {"channel", channel},
                   {"status", status},
                   {"source", "signup-form"},
                   {"notice", "privacy-notice-v3"},
                   {"evidence", "web form, checkbox ticked"},
                   {"time", Rfc3339(at)}});
  };
  const int64_t signed_up =
      now_us - kTwoYearsUs + static_cast<int64_t>(rng.Below(300)) * 24 * kHourUs;
  const int roll = rng.Below(100);
  if (roll < 60) {
    record("marketing", "any", "granted", signed_up);
  } else if (roll < 70) {
    record("marketing", "any", "granted", signed_up);
    record("marketing", "any", "withdrawn", signed_up + 200 * 24 * kHourUs);
  } else if (roll < 75) {
    record("care", "any", "objected", signed_up);
  }
  return out;
}

nlohmann::json Events(Rng& rng, const std::string& id, int64_t now_us) {
  static constexpr std::array<std::string_view, 4> kCategories = {"music", "books", "sports",
                                                                  "home"};
  std::vector<std::pair<int64_t, nlohmann::json>> events;
  const int orders = rng.Below(13);
  for (int i = 0; i < orders; ++i) {
    int64_t at = now_us - 2 * kHourUs - static_cast<int64_t>(rng.Below(730 * 24)) * kHourUs;
    events.push_back(
        {at,
         {{"id", id + "-order-" + std::to_string(i)},
          {"type", "order.placed"},
          {"subject", id},
          {"time", Rfc3339(at)},
          {"data",
           {{"amount", 20 + rng.Below(480)}, {"category", std::string(rng.Pick(kCategories))}}}}});
  }
  const int carts = rng.Below(4);
  for (int i = 0; i < carts; ++i) {
    int64_t at = now_us - static_cast<int64_t>(rng.Below(730 * 24)) * kHourUs;
    events.push_back({at,
                      {{"id", id + "-cart-" + std::to_string(i)},
                       {"type", "cart.updated"},
                       {"subject", id},
                       {"time", Rfc3339(at)},
                       {"data", {{"items", 1 + rng.Below(5)}}}}});
  }
  if (rng.Below(10) == 0) {
    int64_t at = now_us - static_cast<int64_t>(rng.Below(60)) * 60'000'000;
    events.push_back({at,
                      {{"id", id + "-cart-recent"},
                       {"type", "cart.updated"},
                       {"subject", id},
                       {"time", Rfc3339(at)},
                       {"data", {{"items", 1 + rng.Below(5)}}}}});
  }
  std::sort(events.begin(), events.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::json out = nlohmann::json::array();
  for (auto& [at, e] : events) {
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

SampleCustomer SampleData::Customer(int index, int64_t now_us) const {
  Rng rng(seed_ * 1'000'003ULL + static_cast<uint64_t>(index));
  const City& city = rng.Pick(kCities);
  const bool chinese = city.region == "CN";
  std::string name;
  std::string mailbox;
  if (chinese) {
    int s = rng.Below(static_cast<int>(kSurnames.size()));
    name = std::string(kSurnames[s]) + std::string(rng.Pick(kGiven));
    mailbox = std::string(kPinyin[s]) + std::to_string(index);
  } else {
    std::string first(rng.Pick(kLatinFirst));
    name = first + " " + std::string(rng.Pick(kLatinLast));
    mailbox = first + "." + std::to_string(index);
  }
  char id[32];
  std::snprintf(id, sizeof id, "cust-%06d", index);
  nlohmann::json fields = {
      {"name", name},
      {"city", std::string(city.name)},
      {"phone", Phone(rng, city.region)},
      {"email", mailbox + (chinese ? "@example.cn" : "@Example.com")},
      {"birthday", Birthday(rng, index)},
      {"gender", std::array<std::string, 3>{"female", "male", "other"}[rng.Below(3)]},
  };
  nlohmann::json tags = nlohmann::json::array({std::string(rng.Pick(kInterests))});
  if (rng.Below(5) == 0) {
    tags.push_back("vip");
  }
  nlohmann::json consents = Consents(rng, now_us);
  nlohmann::json events = Events(rng, id, now_us);
  return SampleCustomer{
      id,
      {{"fields", fields}, {"tags", {{"add", tags}}}, {"timezone", std::string(city.timezone)}},
      std::move(consents),
      std::move(events)};
}

}  // namespace portrait::examples
