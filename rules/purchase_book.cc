#include "rules/purchase_book.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace portrait::rules {
namespace {

using nlohmann::json;

constexpr int64_t kDayUs = 86'400'000'000;

int64_t DayOf(int64_t us) { return us >= 0 ? us / kDayUs : -((-us + kDayUs - 1) / kDayUs); }

struct Book {
  std::vector<std::pair<int64_t, double>> days;
  int64_t folded_days = 0;
  double folded_amount = 0;
  int64_t folded_through = INT64_MIN;
};

// a + b for amounts (finite, ≥ 0), saturating at the largest double: an infinite sum would be
// stored as null, and the book read back as malformed, i.e. restarted.
double AddAmounts(double a, double b) {
  const double sum = a + b;
  return std::isfinite(sum) ? sum : std::numeric_limits<double>::max();
}

bool IsAmount(const json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= 0;
}

// The book as stored, or nullopt when it is malformed (missing is an empty book).
std::optional<Book> Parse(const json* stored) {
  Book b;
  if (!stored) {
    return b;
  }
  const json* days = stored->is_object() && stored->contains("days") ? &(*stored)["days"] : nullptr;
  const json* folded =
      stored->is_object() && stored->contains("folded") ? &(*stored)["folded"] : nullptr;
  if (!days || !days->is_array() || !folded || !folded->is_array() || folded->size() != 3 ||
      !(*folded)[0].is_number_integer() || !IsAmount((*folded)[1]) ||
      !(*folded)[2].is_number_integer()) {
    return std::nullopt;
  }
  for (const json& d : *days) {
    if (!d.is_array() || d.size() != 2 || !d[0].is_number_integer() || !IsAmount(d[1]) ||
        (!b.days.empty() && d[0].get<int64_t>() <= b.days.back().first)) {
      return std::nullopt;
    }
    b.days.emplace_back(d[0].get<int64_t>(), d[1].get<double>());
  }
  b.folded_days = (*folded)[0].get<int64_t>();
  b.folded_amount = (*folded)[1].get<double>();
  b.folded_through = (*folded)[2].get<int64_t>();
  if (b.days.empty() || b.folded_days < 0 || b.days.size() > kBookDays) {
    return b.days.empty() && b.folded_days == 0 ? std::optional<Book>(Book{}) : std::nullopt;
  }
  return b;
}

json Dump(const Book& b) {
  json days = json::array();
  for (const auto& [day, amount] : b.days) {
    days.push_back(json::array({day, amount}));
  }
  return json{{"days", days},
              {"folded", json::array({b.folded_days, b.folded_amount, b.folded_through})}};
}

void Add(Book& b, int64_t day, double amount) {
  if (!b.days.empty() && day < b.days.front().first && b.folded_days > 0) {
    // A new first day: the old first joins the folded repeat days, which it precedes.
    b.folded_days += 1;
    b.folded_amount = AddAmounts(b.folded_amount, b.days.front().second);
    b.days.front() = {day, amount};
    return;
  }
  if (!b.days.empty() && day > b.days.front().first && day <= b.folded_through) {
    // On or among the folded days: counted as on one of them.
    b.folded_amount = AddAmounts(b.folded_amount, amount);
    return;
  }
  auto at = std::lower_bound(b.days.begin(), b.days.end(), std::make_pair(day, -1.0));
  if (at != b.days.end() && at->first == day) {
    at->second = AddAmounts(at->second, amount);
    return;
  }
  b.days.insert(at, {day, amount});
  if (b.days.size() > kBookDays) {  // fold the oldest repeat day
    b.folded_days += 1;
    b.folded_amount = AddAmounts(b.folded_amount, b.days[1].second);
    b.folded_through = std::max(b.folded_through, b.days[1].first);
    b.days.erase(b.days.begin() + 1);
  }
}

}  // namespace

std::optional<double> AmountAt(const json& data, std::string_view key) {
  const json* at = &data;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    if (!at->is_object()) {
      return std::nullopt;
    }
    auto it =
        at->find(std::string(key.substr(start, dot == std::string_view::npos ? dot : dot - start)));
    if (it == at->end()) {
      return std::nullopt;
    }
    at = &*it;
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return IsAmount(*at) ? std::optional<double>(at->get<double>()) : std::nullopt;
}

void ForgetBook(std::string_view model_name, json& metrics) {
  if (auto it = metrics.is_object() ? metrics.find(kPurchasesKey) : metrics.end();
      it != metrics.end() && it->is_object()) {
    it->erase(std::string(model_name));
  }
}

bool RecordPurchase(const Model& model, const EventFacts& event, json& metrics) {
  if (event.type != model.purchases || !metrics.is_object()) {
    return false;
  }
  json& books = metrics[std::string(kPurchasesKey)];
  if (!books.is_object()) {
    books = json::object();
  }
  const json* stored = books.contains(model.name) ? &books[model.name] : nullptr;
  Book book = Parse(stored).value_or(Book{});
  const double amount = event.data ? AmountAt(*event.data, model.amount).value_or(0) : 0;
  Add(book, DayOf(event.time_us), amount);
  books[model.name] = Dump(book);
  return true;
}

std::optional<PurchaseBook> ReadPurchaseBook(const json& metrics, std::string_view model_name) {
  auto books = metrics.is_object() ? metrics.find(kPurchasesKey) : metrics.end();
  if (books == metrics.end() || !books->is_object()) {
    return std::nullopt;
  }
  auto stored = books->find(std::string(model_name));
  if (stored == books->end()) {
    return std::nullopt;
  }
  std::optional<Book> b = Parse(&*stored);
  if (!b || b->days.empty()) {
    return std::nullopt;
  }
  PurchaseBook out{.first_day = b->days.front().first, .first_amount = b->days.front().second};
  out.last_day = std::max(b->days.back().first, b->folded_through);
  out.repeat_days = b->folded_days + static_cast<int64_t>(b->days.size()) - 1;
  out.repeat_amount = b->folded_amount;
  for (size_t i = 1; i < b->days.size(); ++i) {
    out.repeat_amount = AddAmounts(out.repeat_amount, b->days[i].second);
  }
  return out;
}

}  // namespace portrait::rules
