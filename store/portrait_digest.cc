#include "store/portrait_digest.h"

#include "store/json_scan.h"

namespace portrait::store {
namespace {

using nlohmann::json;
namespace od = simdjson::ondemand;

// The text's version: a digest of another version is never read.
constexpr std::string_view kVersion = "1";

// The strings of array `a`, or nullopt when it holds anything else.
std::optional<std::vector<std::string>> Strings(const json& a) {
  if (!a.is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const json& s : a) {
    if (!s.is_string()) {
      return std::nullopt;
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

// The digest `text` holds, read with json::parse: what ParseDigest answers.
std::optional<PortraitDigest> ParseDigestWhole(ProfileId id, std::string_view text) {
  json d = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!d.is_object()) {
    return std::nullopt;
  }
  auto l = d.find("l"), z = d.find("z"), t = d.find("t"), m = d.find("m"), f = d.find("f"),
       s = d.find("s");
  if (l == d.end() || !l->is_string() || z == d.end() || !z->is_string() || t == d.end() ||
      m == d.end() || !m->is_object() || f == d.end() || !f->is_object() || s == d.end()) {
    return std::nullopt;
  }
  PortraitDigest out;
  std::optional<std::vector<std::string>> tags = Strings(*t), segments = Strings(*s);
  if (!tags || !segments) {
    return std::nullopt;
  }
  out.profile.id = id;
  out.profile.lifecycle = l->get<std::string>();
  out.profile.timezone = z->get<std::string>();
  out.profile.tags = std::move(*tags);
  out.profile.metrics = std::move(*m);
  out.profile.fields = std::move(*f);
  out.segments = std::move(*segments);
  return out;
}

// Reads string `v` into `out`.
bool ScanString(od::value& v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    return false;
  }
  out = s;
  return true;
}

// Reads array `v` of strings into `out`, in place of what it held.
bool ScanStrings(od::value& v, std::vector<std::string>& out) {
  od::array array;
  if (v.get_array().get(array) != simdjson::SUCCESS) {
    return false;
  }
  size_t n = 0;
  for (auto element : array) {
    od::value value;
    if (n == out.size()) {
      out.emplace_back();
    }
    if (element.get(value) != simdjson::SUCCESS || !ScanString(value, out[n++])) {
      return false;
    }
  }
  out.resize(n);
  return true;
}

// Builds object `v` into `out`, reusing what it holds.
bool ScanObject(od::value& v, json& out) {
  od::json_type type;
  return v.type().get(type) == simdjson::SUCCESS && type == od::json_type::object &&
         json_scan::Build(v, &out);
}

// Reads the digest `text` holds straight into the parts of `out`, reusing what they hold (the
// pass opens a million of them: building the whole text as json first and copying its parts out
// cost more than the scan). False when the scan does not give ParseDigestWhole's answer for
// certain — a text that is not a digest, a key twice, or anything the scan leaves to
// json::parse — and ParseDigestWhole decides.
bool ScanDigest(ProfileId id, std::string_view text, PortraitDigest& out) {
  od::document doc;
  od::object root;
  if (!json_scan::Start(text, doc) || doc.get_object().get(root) != simdjson::SUCCESS) {
    return false;
  }
  out.profile.id = id;
  constexpr std::string_view kKeys = "lztmfs";
  unsigned seen = 0;
  for (auto entry : root) {
    std::string_view key;
    od::value value;
    if (entry.unescaped_key().get(key) != simdjson::SUCCESS ||
        entry.value().get(value) != simdjson::SUCCESS) {
      return false;
    }
    const size_t which = key.size() == 1 ? kKeys.find(key[0]) : std::string_view::npos;
    if (which == std::string_view::npos) {
      if (!json_scan::Build(value, nullptr)) {  // not read, but it must be JSON
        return false;
      }
      continue;
    }
    if (seen & (1u << which)) {
      return false;
    }
    seen |= 1u << which;
    bool read = false;
    switch (kKeys[which]) {
      case 'l':
        read = ScanString(value, out.profile.lifecycle);
        break;
      case 'z':
        read = ScanString(value, out.profile.timezone);
        break;
      case 't':
        read = ScanStrings(value, out.profile.tags);
        break;
      case 'm':
        read = ScanObject(value, out.profile.metrics);
        break;
      case 'f':
        read = ScanObject(value, out.profile.fields);
        break;
      case 's':
        read = ScanStrings(value, out.segments);
        break;
    }
    if (!read) {
      return false;
    }
  }
  return seen == (1u << kKeys.size()) - 1 && json_scan::Ended(doc);
}

}  // namespace

std::string DigestSpec(const std::vector<std::string>& metrics,
                       const std::vector<std::string>& fields) {
  return json::array({kVersion, metrics, fields}).dump();
}

std::string DigestText(const Profile& p, const json& fields,
                       const std::vector<std::string>& segments) {
  return json{{"l", p.lifecycle}, {"z", p.timezone}, {"t", p.tags},
              {"m", p.metrics},   {"f", fields},     {"s", segments}}
      .dump();
}

bool ParseDigest(ProfileId id, std::string_view text, PortraitDigest& out) {
  if (ScanDigest(id, text, out)) {
    return true;
  }
  std::optional<PortraitDigest> whole = ParseDigestWhole(id, text);
  if (!whole) {
    return false;
  }
  out = std::move(*whole);
  return true;
}

std::optional<PortraitDigest> ParseDigest(ProfileId id, std::string_view text) {
  PortraitDigest out;
  if (!ParseDigest(id, text, out)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace portrait::store
