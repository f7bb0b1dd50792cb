#include "daemon/profile_events.h"

#include <algorithm>
#include <tuple>

#include "crypto/field_cipher.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {

using crypto::FieldCipher;
using nlohmann::json;

Result<std::vector<PlainEvent>> OpenEvents(store::Store& store, const store::OpenProfile& p,
                                           const std::function<bool(std::string_view)>& wanted,
                                           int64_t* unreadable) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::EventRow> rows, store.GetEvents(p.row.id));
  std::vector<PlainEvent> out;
  const std::string ad = FieldCipher::AssociatedData(p.row.id, store::kEventDataField);
  for (const store::EventRow& row : rows) {
    if (wanted && !wanted(row.type)) {
      continue;
    }
    Result<std::string> text = FieldCipher::Open(p.key, ad, row.data);
    json data = text ? json::parse(*text, nullptr, /*allow_exceptions=*/false) : json();
    if (!text || data.is_discarded()) {
      if (unreadable) {
        ++*unreadable;
        continue;
      }
      return Error(Status::Corruption("an event of profile " + std::to_string(p.row.id) +
                                      (text ? " does not hold JSON" : " does not open")));
    }
    out.push_back(PlainEvent{row.key, row.type, row.time_us, std::move(data)});
  }
  std::sort(out.begin(), out.end(), [](const PlainEvent& a, const PlainEvent& b) {
    return std::tie(a.time_us, a.key) < std::tie(b.time_us, b.key);
  });
  return out;
}

void ApplyKept(const std::vector<rules::Metric>& defs, const std::vector<rules::Model>& models,
               const std::vector<PlainEvent>& events, json& metrics) {
  for (const PlainEvent& e : events) {
    rules::EventFacts facts{e.type, e.time_us, &e.data};
    rules::ApplyEvent(defs, facts, metrics);
    for (const rules::Model& m : models) {
      rules::RecordPurchase(m, facts, metrics);
    }
  }
}

}  // namespace portrait::daemon
