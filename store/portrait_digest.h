// A profile's digest (docs/DECISIONS.md 180): what the segments-only re-evaluation reads of a
// profile — its stage, zone, tags, the metrics and fields the segments name and its
// members-index rows — as one JSON text, sealed under the profile's data key and stored in one
// row beside the profile. The pass reads and opens that row instead of the profile's row, its
// field rows and its index rows. The store empties the row whenever any of them changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/profile_vault.h"

namespace portrait::store {

struct PortraitDigest {
  Profile profile;                    // id, stage, zone, tags, the named metrics and fields
  std::vector<std::string> segments;  // its members-index rows, ascending
};

// What a digest holding `metrics` and `fields` (each sorted) holds: a digest is read only by a
// pass that asks for the same spec.
std::string DigestSpec(const std::vector<std::string>& metrics,
                       const std::vector<std::string>& fields);

// The digest text of `p` (its stage, zone, tags and metrics as they are), its `fields` (those
// the segments name, as an object) and its members-index rows `segments`.
std::string DigestText(const Profile& p, const nlohmann::json& fields,
                       const std::vector<std::string>& segments);

// Reads the digest `text` holds into `out`, as profile `id`'s: its id, stage, zone, tags,
// metrics, fields and segments in place of what they held, reusing their allocations (a pass
// reads a million digests into one). The rest of `out.profile` stays as it was, or is reset
// when json::parse reads the text. False when `text` is not one; `out` then holds anything.
bool ParseDigest(ProfileId id, std::string_view text, PortraitDigest& out);

// The same into a new digest; nullopt when `text` is not one.
std::optional<PortraitDigest> ParseDigest(ProfileId id, std::string_view text);

}  // namespace portrait::store
