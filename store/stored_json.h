// Parsing the JSON the vault sealed (metrics, field values, tags) into nlohmann::json, fast.
//
// The base-wide passes open every profile's metrics: a re-evaluation of the portrait and an RFM
// refresh at 1,000,000 profiles each parse a million small documents, and nlohmann's parser
// builds them at about 30 MB/s. ParseStoredJson scans an object or array with simdjson's
// On-Demand parser and builds only what is kept (DECISIONS 172), and takes a string of printable
// ASCII without escapes (most field values) as it is; its answer is always the one
// json::parse would give: any other text, what simdjson refuses, and any text past kMaxScanned
// bytes go to json::parse itself.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portrait::store {

// Longer texts go to json::parse. Each thread's scanner keeps a padded copy buffer this long,
// and simdjson's own buffers grow to the longest text it scanned, never past this.
inline constexpr size_t kMaxScanned = 64 * 1024;

// Parses `text`. With `only`, a top-level object keeps only the entries whose keys `only` names
// (the rest are checked, never built); any other document is kept whole. nullopt when `text`
// is not JSON. Thread-safe.
std::optional<nlohmann::json> ParseStoredJson(std::string_view text,
                                              const std::vector<std::string>* only = nullptr);

}  // namespace portrait::store
