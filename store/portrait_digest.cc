#include "store/portrait_digest.h"

#include "store/stored_json.h"

namespace portrait::store {
namespace {

using nlohmann::json;

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

std::optional<PortraitDigest> ParseDigest(ProfileId id, std::string_view text) {
  std::optional<json> d = ParseStoredJson(text);
  if (!d || !d->is_object()) {
    return std::nullopt;
  }
  auto l = d->find("l"), z = d->find("z"), t = d->find("t"), m = d->find("m"), f = d->find("f"),
       s = d->find("s");
  if (l == d->end() || !l->is_string() || z == d->end() || !z->is_string() || t == d->end() ||
      m == d->end() || !m->is_object() || f == d->end() || !f->is_object() || s == d->end()) {
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

}  // namespace portrait::store
