#include "config/config.h"

#include <algorithm>
#include <tuple>

namespace portrait::config {

std::string SourcePos::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {
template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view name) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& t) { return t.name == name; });
  return it == items.end() ? nullptr : &*it;
}
}  // namespace

const Field* Config::FindField(std::string_view name) const { return FindByName(fields, name); }
const Purpose* Config::FindPurpose(std::string_view name) const {
  return FindByName(purposes, name);
}
const Role* Config::FindRole(std::string_view name) const { return FindByName(roles, name); }
const Sink* Config::FindSink(std::string_view name) const { return FindByName(sinks, name); }

std::vector<std::string> KeepStartOnlySettings(const Config& in_force, Config& fresh) {
  std::vector<std::string> changed;
  auto keep = [&](const auto& old_value, auto& new_value, const char* name) {
    if (new_value != old_value) {
      changed.push_back(name);
      new_value = old_value;
    }
  };
  keep(in_force.daemon.data_dir, fresh.daemon.data_dir, "daemon.data_dir");
  keep(in_force.daemon.listen, fresh.daemon.listen, "daemon.listen");
  keep(in_force.daemon.page_cache_mib, fresh.daemon.page_cache_mib, "daemon.page_cache_mib");
  keep(in_force.daemon.request_timeout_seconds, fresh.daemon.request_timeout_seconds,
       "daemon.request_timeout_seconds");
  keep(in_force.keys.file, fresh.keys.file, "keys.file");
  keep(in_force.keys.passphrase_env, fresh.keys.passphrase_env, "keys.passphrase_env");
  keep(in_force.keys.blind_index_bytes, fresh.keys.blind_index_bytes, "keys.blind_index_bytes");
  keep(in_force.store, fresh.store, "[store]");
  keep(in_force.cluster, fresh.cluster, "[cluster]");
  keep(in_force.audit.checkpoint_every, fresh.audit.checkpoint_every, "audit.checkpoint_every");
  keep(in_force.audit.checkpoint_interval, fresh.audit.checkpoint_interval,
       "audit.checkpoint_interval");
  auto same = [](const Sink& a, const Sink& b) {  // all but where they were written
    auto fields = [](const Sink& s) {
      return std::tie(s.name, s.type, s.url, s.secret_env, s.ca_file, s.path, s.command,
                      s.max_attempts, s.concurrency, s.timeout, s.backoff, s.backoff_max,
                      s.third_party);
    };
    return fields(a) == fields(b);
  };
  if (!std::equal(in_force.sinks.begin(), in_force.sinks.end(), fresh.sinks.begin(),
                  fresh.sinks.end(), same)) {
    changed.push_back("[[sink]]");
    fresh.sinks = in_force.sinks;
  }
  return changed;
}

bool DerivedUse::Allows(std::string_view kind, std::string_view name) const {
  for (const std::string& e : entries) {
    if (e == kind || (!name.empty() && e.size() == kind.size() + 1 + name.size() &&
                      e.compare(0, kind.size(), kind) == 0 && e[kind.size()] == '.' &&
                      e.compare(kind.size() + 1, name.size(), name) == 0)) {
      return true;
    }
  }
  return false;
}

bool DerivedUse::AllowsTag(std::string_view tag) const {
  return Allows("tags", tag.substr(0, tag.find('/')));
}

const std::vector<std::string>& DerivedKinds() {
  static const std::vector<std::string> kKinds = {"metrics",  "lifecycle", "tags",
                                                  "segments", "scores",    "predictions"};
  return kKinds;
}

const std::vector<std::string>& KnownPermissions() {
  static const std::vector<std::string> kPermissions = {
      "profiles.read", "profiles.write", "events.write",  "consents.read", "consents.write",
      "tasks.read",    "tasks.write",    "rules.test",    "export",        "erase",
      "audit.read",    "admin",          "segments.read", "models.read",   "models.fit"};
  return kPermissions;
}

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kPhone:
      return "phone";
    case FieldType::kEmail:
      return "email";
    case FieldType::kDate:
      return "date";
    case FieldType::kNumber:
      return "number";
    case FieldType::kBool:
      return "bool";
    case FieldType::kEnum:
      return "enum";
  }
  return "?";
}

}  // namespace portrait::config
