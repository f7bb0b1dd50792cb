// The simdjson On-Demand scan that ParseStoredJson (store/stored_json.h) and ParseDigest
// (store/portrait_digest.h) share: this thread's parser over a padded copy of a text, and the
// build of a scanned value into nlohmann::json as json::parse would build it. Internal to
// store/; defined in store/stored_json.cc.
#pragma once

#include <simdjson.h>

#include <nlohmann/json.hpp>
#include <string_view>

namespace portrait::store::json_scan {

// Starts this thread's parser on a copy of `text` (at most kMaxScanned bytes) into `doc`,
// which stays valid until the next Start on this thread. False when `text` is longer or
// simdjson refuses it.
bool Start(std::string_view text, simdjson::ondemand::document& doc);

// Builds `v`, a value inside the document's root, into `*out` as json::parse would, reusing
// what `*out` holds (with `out` null it only checks it). False when simdjson refuses something
// or an object's keys are not in ascending order: the caller then hands the whole text to
// json::parse.
bool Build(simdjson::ondemand::value& v, nlohmann::json* out);

// Whether nothing follows the document's value.
bool Ended(simdjson::ondemand::document& doc);

}  // namespace portrait::store::json_scan
