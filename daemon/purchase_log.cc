#include "daemon/purchase_log.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analytics/bgnbd.h"
#include "analytics/gamma_gamma.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr int kPage = 10'000;

// Opens each event of `page` (one data key per profile) and adds its purchase to `logs`.
Status AddPage(store::ProfileVault& vault, std::vector<store::EventRow>& page,
               std::string_view amount_key, PurchaseSummaries& logs) {
  std::stable_sort(page.begin(), page.end(),
                   [](const auto& a, const auto& b) { return a.profile_id < b.profile_id; });
  for (size_t i = 0; i < page.size();) {
    const store::ProfileId id = page[i].profile_id;
    size_t end = i;
    while (end < page.size() && page[end].profile_id == id) {
      ++end;
    }
    auto key = logs.dropped.contains(id) ? Result<crypto::SlabKey>(Error(Status::NotFound("")))
                                         : vault.KeyOf(id);
    if (!key && key.error().code() == Status::Code::kNotFound) {
      logs.unreadable += static_cast<int64_t>(end - i);  // erased or merged away meanwhile
      logs.by_profile.erase(id);
      logs.dropped.insert(id);
      i = end;
      continue;
    }
    PORTRAIT_RETURN_IF_ERROR(key.has_value() ? Status::Ok() : key.error());
    for (; i < end; ++i) {
      PORTRAIT_ASSIGN_OR_RETURN(
          std::string text,
          store::ProfileVault::OpenWith(*key, id, store::kEventDataField, page[i].data));
      const std::optional<double> amount =
          rules::AmountAt(json::parse(text, nullptr, false), amount_key);
      logs.without_amount += amount ? 0 : 1;
      if (!logs.by_profile[id].Add({page[i].time_us, amount.value_or(0)})) {
        return Status::Internal("the store gave the events of a type out of time order");
      }
      ++logs.events;
    }
  }
  return Status::Ok();
}

// Drops the customers of `logs` whose profile is gone (erased or merged away while the pages
// were read): their ids, sorted, against the store's profile ids, in pages.
Status DropGone(store::Store& store, PurchaseSummaries& logs) {
  std::vector<store::ProfileId> ids;
  ids.reserve(logs.by_profile.size());
  for (const auto& [id, summary] : logs.by_profile) {
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  auto next = ids.begin();
  store::ProfileId after = 0;
  while (next != ids.end()) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> live, store.ProfileIds(after, kPage));
    const store::ProfileId last =
        live.empty() ? std::numeric_limits<store::ProfileId>::max() : live.back();
    for (; next != ids.end() && *next <= last; ++next) {
      if (!std::binary_search(live.begin(), live.end(), *next)) {
        logs.by_profile.erase(*next);
        logs.dropped.insert(*next);
      }
    }
    after = last;
  }
  return Status::Ok();
}

}  // namespace

analytics::TimeUnit UnitOf(const rules::Model& model) {
  return model.unit == rules::ModelUnit::kDay ? analytics::TimeUnit::kDay
                                              : analytics::TimeUnit::kWeek;
}

Result<PurchaseSummaries> ReadPurchases(store::Store& store, store::ProfileVault& vault,
                                        std::string_view type, std::string_view amount_key,
                                        int64_t until_us) {
  PurchaseSummaries logs;
  store::EventCursor at;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::EventRow> page,
                              store.EventsOfType(type, until_us, at, kPage));
    if (page.empty()) {
      PORTRAIT_RETURN_IF_ERROR(DropGone(store, logs));
      return logs;
    }
    at = store::EventCursor{page.back().time_us, page.back().key};
    PORTRAIT_RETURN_IF_ERROR(AddPage(vault, page, amount_key, logs));
  }
}

Result<FittedModel> FitSummaries(const rules::Model& model,
                                 std::span<const analytics::CustomerSummary> summaries,
                                 int64_t until_us) {
  std::vector<analytics::BgNbdCustomer> customers;
  std::vector<analytics::GammaGammaCustomer> spenders;
  customers.reserve(summaries.size());
  for (const analytics::CustomerSummary& s : summaries) {
    customers.push_back({s.x, s.t_x, s.T});
    if (s.x > 0 && s.mean_repeat_value > 0) {
      spenders.push_back({s.x, s.mean_repeat_value});
    }
  }
  PORTRAIT_ASSIGN_OR_RETURN(analytics::BgNbdFit fit, analytics::FitBgNbd(customers));
  FittedModel m{.name = model.name, .until_us = until_us, .unit = UnitOf(model)};
  m.customers = fit.customers;
  m.bgnbd = fit.params;
  m.log_likelihood = fit.log_likelihood;
  if (!spenders.empty()) {
    if (auto gg = analytics::FitGammaGamma(spenders)) {
      m.gamma_gamma = gg->params;
      m.repeat_buyers = gg->customers;
      m.gamma_gamma_log_likelihood = gg->log_likelihood;
    }
  }
  return m;
}

std::vector<analytics::CustomerSummary> Summaries(const PurchaseSummaries& logs,
                                                  const analytics::SummaryOptions& options) {
  std::vector<analytics::CustomerSummary> summaries;
  summaries.reserve(logs.by_profile.size());
  for (const auto& [id, running] : logs.by_profile) {
    if (auto s = running.Finish(options)) {
      summaries.push_back(*s);  // else named nowhere: the count of the sample says it
    }
  }
  return summaries;
}

}  // namespace portrait::daemon
