// OnDemandFields: one profile's fields as a range read left them sealed
// (Store::PortraitInputs::fields), each opened the first time a condition reads it
// (rules::FieldSource), so the base-wide check opens a field only for the profiles whose
// conditions get that far. A field that cannot be opened reads as missing and marks the source
// failed: the caller then sends the profile to the writer, which opens it whole and reports
// what is wrong. One profile, one thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "crypto/key_slab.h"
#include "rules/evaluator.h"
#include "store/store.h"

namespace portrait::daemon {

class OnDemandFields : public rules::FieldSource {
 public:
  // `key` (the profile's data key) and `envelopes` must outlive the source.
  OnDemandFields(crypto::KeyView key, store::ProfileId id,
                 const std::map<std::string, std::string>& envelopes)
      : key_(key), id_(id), envelopes_(envelopes) {}

  const nlohmann::json* Find(std::string_view name) const override;

  // Whether a field read could not be opened.
  bool failed() const { return failed_; }

 private:
  const crypto::KeyView key_;
  const store::ProfileId id_;
  const std::map<std::string, std::string>& envelopes_;
  mutable std::map<std::string, nlohmann::json, std::less<>> opened_;
  mutable bool failed_ = false;
};

}  // namespace portrait::daemon
