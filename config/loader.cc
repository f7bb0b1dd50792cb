#include "config/loader.h"

#include <date/tz.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/duration.h"
#include "config/toml_reader.h"

namespace portrait::config {
namespace {

namespace fs = std::filesystem;

std::string Resolve(const fs::path& base, const std::string& p) {
  if (p.empty()) {
    return p;
  }
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

bool IsClockTime(std::string_view s) {  // "HH:MM"
  return s.size() == 5 && s[2] == ':' && std::isdigit(s[0]) && std::isdigit(s[1]) &&
         std::isdigit(s[3]) && std::isdigit(s[4]) && (s[0] - '0') * 10 + (s[1] - '0') < 24 &&
         (s[3] - '0') * 10 + (s[4] - '0') < 60;
}

class Loader {
 public:
  Loader(const toml::table& root, const std::string& path)
      : root_(root), diag_(path), base_(fs::path(path).parent_path()) {
    config_.path = path;
  }

  Result<Config> Load() {
    TableReader top(root_, "portrait.toml", diag_);
    if (const toml::table* t = top.Table("daemon")) {
      LoadDaemon(*t);
    } else {
      diag_.Add(top.pos(), "missing [daemon] table (data_dir is required)");
    }
    if (const toml::table* t = top.Table("keys")) {
      LoadKeys(*t);
    } else {
      diag_.Add(top.pos(), "missing [keys] table (file or passphrase_env is required)");
    }
    if (const toml::table* t = top.Table("store")) {
      LoadStore(*t);
    }
    if (const toml::table* t = top.Table("cluster")) {
      LoadCluster(*t);
    }
    if (const toml::table* t = top.Table("audit")) {
      LoadAudit(*t);
    }
    for (const toml::table* t : top.Tables("field")) {
      LoadField(*t);
    }
    for (const toml::table* t : top.Tables("purpose")) {
      LoadPurpose(*t);
    }
    for (const toml::table* t : top.Tables("role")) {
      LoadRole(*t);
    }
    for (const toml::table* t : top.Tables("sink")) {
      LoadSink(*t);
    }
    for (const toml::table* t : top.Tables("retention")) {
      LoadRetention(*t);
    }
    top.Finish();
    PORTRAIT_RETURN_IF_ERROR(diag_.ToStatus());
    return std::move(config_);
  }

 private:
  void LoadDaemon(const toml::table& t) {
    TableReader r(t, "[daemon]", diag_);
    DaemonConfig& d = config_.daemon;
    if (auto v = r.String("data_dir", true)) {
      d.data_dir = Resolve(base_, v->value);
    }
    if (auto v = r.String("listen")) {
      auto colon = v->value.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == v->value.size()) {
        r.Error(v->pos, "listen", "expected host:port, e.g. 127.0.0.1:7451");
      }
      d.listen = v->value;
    }
    if (auto v = r.String("timezone")) {
      if (!IsKnownTimeZone(v->value)) {
        r.Error(v->pos, "timezone", "unknown time zone '" + v->value + "' (use an IANA name)");
      }
      d.timezone = v->value;
    }
    if (auto v = r.Strings("rules")) {
      for (auto& pattern : *v) {
        d.rules.push_back(Resolve(base_, pattern.value));
      }
    }
    if (auto v = r.String("phone_region")) {
      if (v->value.size() != 2 || !std::isupper(v->value[0]) || !std::isupper(v->value[1])) {
        r.Error(v->pos, "phone_region", "expected a two-letter region such as CN or US");
      }
      d.phone_region = v->value;
    }
    if (auto v = r.Int("page_cache_mib", 2, 4096)) {
      d.page_cache_mib = static_cast<int>(*v);
    }
    if (auto v = r.Int("request_timeout_seconds", 1, 300)) {
      d.request_timeout_seconds = static_cast<int>(*v);
    }
    if (auto v = r.String("event_future")) {
      auto future = ParseDuration(v->value);
      if (!future) {
        r.Error(v->pos, "event_future", future.error().message());
      } else {
        d.event_future = *future;
      }
    }
    r.Finish();
  }

  void LoadAudit(const toml::table& t) {
    TableReader r(t, "[audit]", diag_);
    if (auto v = r.Int("checkpoint_every", 1, 1'000'000)) {
      config_.audit.checkpoint_every = static_cast<int>(*v);
    }
    if (auto v = r.String("checkpoint_interval")) {
      auto d = ParseDuration(v->value);
      if (!d || d->count() == 0) {
        r.Error(v->pos, "checkpoint_interval", d ? "must be at least 1s" : d.error().message());
      } else {
        config_.audit.checkpoint_interval = *d;
      }
    }
    r.Finish();
  }

  void LoadKeys(const toml::table& t) {
    TableReader r(t, "[keys]", diag_);
    if (auto v = r.String("file")) {
      config_.keys.file = Resolve(base_, v->value);
    }
    if (auto v = r.String("passphrase_env")) {
      config_.keys.passphrase_env = v->value;
    }
    if (config_.keys.file.empty() == config_.keys.passphrase_env.empty()) {
      diag_.Add(r.pos(), "[keys]: set exactly one of 'file' and 'passphrase_env'");
    }
    if (auto v = r.Int("blind_index_bytes", 8, 32)) {
      config_.keys.blind_index_bytes = static_cast<int>(*v);
    }
    r.Finish();
  }

  void LoadStore(const toml::table& t) {
    TableReader r(t, "[store]", diag_);
    StoreConfig& s = config_.store;
    s.pos = r.pos();
    s.kind = r.Enum<StoreKind>("kind", {{"sqlcipher", StoreKind::kSqlcipher},
                                        {"postgres", StoreKind::kPostgres}})
                 .value_or(StoreKind::kSqlcipher);
    const bool postgres = s.kind == StoreKind::kPostgres;
    for (auto [key, url] : {std::pair{"url", &s.url}, {"keystore_url", &s.keystore_url}}) {
      if (auto v = r.String(key, postgres)) {
        if (UrlHoldsPassword(v->value)) {
          r.Error(v->pos, key,
                  "holds a password; name an environment variable or a file instead "
                  "(password_env, password_file)");
        }
        *url = v->value;
      }
    }
    if (postgres && !s.url.empty() && s.url == s.keystore_url) {
      diag_.Add(r.pos(), "[store]: the keystore must be another database than url's");
    }
    LoadPassword(r, "password", s.password_env, s.password_file);
    LoadPassword(r, "keystore_password", s.keystore_password_env, s.keystore_password_file);
    if (!postgres && (!s.url.empty() || !s.keystore_url.empty() || !s.password_env.empty() ||
                      !s.password_file.empty() || !s.keystore_password_env.empty() ||
                      !s.keystore_password_file.empty())) {
      diag_.Add(r.pos(),
                "[store]: url, keystore_url and the passwords are for kind = \"postgres\"");
    }
    r.Finish();
  }

  void LoadCluster(const toml::table& t) {
    TableReader r(t, "[cluster]", diag_);
    ClusterConfig& c = config_.cluster;
    c.enabled = true;
    c.pos = r.pos();
    if (auto v = r.String("node", true)) {
      if (!IsNodeName(v->value)) {
        r.Error(v->pos, "node", "must be 1 to 64 letters, digits, '-', '_' or '.'");
      }
      c.node = v->value;
    }
    if (auto v = r.String("address", true)) {
      c.address = v->value;
      if (!(c.address.starts_with("http://") || c.address.starts_with("https://")) ||
          c.address.size() > 256) {
        r.Error(v->pos, "address", "must be an http:// or https:// URL of at most 256 bytes");
      }
    }
    if (auto v = r.Int("partitions", 1, 4096)) {
      c.partitions = static_cast<int>(*v);
    }
    if (auto v = r.String("lease")) {
      auto d = ParseDuration(v->value);
      if (!d || d->count() < 2 || d->count() > 600) {
        r.Error(v->pos, "lease", d ? "must be from 2s to 10m" : d.error().message());
      } else {
        c.lease = *d;
      }
    }
    if (config_.store.kind != StoreKind::kPostgres) {
      diag_.Add(r.pos(), "[cluster] needs [store] kind = \"postgres\"");
    }
    r.Finish();
  }

  static bool IsNodeName(std::string_view s) {
    if (s.empty() || s.size() > 64) {
      return false;
    }
    for (char ch : s) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
        return false;
      }
    }
    return true;
  }

  // `prefix`_env or `prefix`_file, at most one.
  void LoadPassword(TableReader& r, const std::string& prefix, std::string& env,
                    std::string& file) {
    if (auto v = r.String(prefix + "_env")) {
      env = v->value;
    }
    if (auto v = r.String(prefix + "_file")) {
      file = Resolve(base_, v->value);
    }
    if (!env.empty() && !file.empty()) {
      diag_.Add(r.pos(),
                "[store]: set at most one of '" + prefix + "_env' and '" + prefix + "_file'");
    }
  }

  // Whether a libpq connection string carries a password: a password= parameter (either form),
  // or user:password@ in a URI's authority.
  static bool UrlHoldsPassword(std::string_view url) {
    std::string lower(url);
    for (char& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower.find("password") != std::string::npos) {
      return true;
    }
    const size_t scheme = lower.find("://");
    if (scheme == std::string::npos) {
      return false;
    }
    const std::string_view rest = std::string_view(url).substr(scheme + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    const size_t at = authority.rfind('@');
    return at != std::string_view::npos &&
           authority.substr(0, at).find(':') != std::string_view::npos;
  }

  // Records `name` (from key "name" of `r`) and reports a duplicate among `seen`.
  template <typename T>
  bool TakeName(TableReader& r, std::string_view kind, const std::vector<T>& seen, T& item) {
    auto name = r.String("name", true);
    if (!name) {
      return false;
    }
    item.name = name->value;
    item.pos = name->pos;
    r.set_context(std::string(kind) + " '" + item.name + "'");
    for (const T& other : seen) {
      if (other.name == item.name) {
        r.Error(name->pos, "name",
                "duplicate " + std::string(kind) + " name (first defined at " +
                    other.pos.ToString() + ")");
        return false;
      }
    }
    if (item.name.empty()) {
      r.Error(name->pos, "name", "must not be empty");
      return false;
    }
    return true;
  }

  void LoadField(const toml::table& t) {
    TableReader r(t, "[[field]]", diag_);
    Field f;
    bool named = TakeName(r, "field", config_.fields, f);
    if (named && f.name.starts_with('$')) {
      // The vault seals its own values (event data, task payloads, digests) under names
      // starting with '$', beside the fields' (docs/DECISIONS.md 181).
      r.Error(f.pos, "name", "must not start with '$' (such names are the vault's own)");
      named = false;
    }
    f.type = r.Enum<FieldType>("type",
                               {{"string", FieldType::kString},
                                {"phone", FieldType::kPhone},
                                {"email", FieldType::kEmail},
                                {"date", FieldType::kDate},
                                {"number", FieldType::kNumber},
                                {"bool", FieldType::kBool},
                                {"enum", FieldType::kEnum}},
                               true)
                 .value_or(FieldType::kString);
    f.field_class = r.Enum<FieldClass>("class", {{"personal", FieldClass::kPersonal},
                                                 {"sensitive", FieldClass::kSensitive}})
                        .value_or(FieldClass::kPersonal);
    f.blind_index = r.Bool("blind_index").value_or(false);
    if (auto mask = r.Enum<MaskKind>("mask", {{"redact", MaskKind::kRedact},
                                              {"phone", MaskKind::kPhone},
                                              {"email", MaskKind::kEmail},
                                              {"name", MaskKind::kName},
                                              {"date", MaskKind::kDate},
                                              {"year", MaskKind::kYear}})) {
      f.mask = *mask;
      CheckMaskFits(r, f);
    }
    if (auto values = r.Strings("values")) {
      for (auto& v : *values) {
        f.values.push_back(v.value);
      }
    }
    if (f.type == FieldType::kEnum && f.values.empty()) {
      r.Error(r.PosOf("type"), "values", "an enum field needs a non-empty 'values' list");
    }
    if (f.type != FieldType::kEnum && !f.values.empty()) {
      r.Error(r.PosOf("values"), "values", "only enum fields take 'values'");
    }
    if (f.blind_index && f.type != FieldType::kEmail && f.type != FieldType::kPhone &&
        f.type != FieldType::kString) {
      r.Error(r.PosOf("blind_index"), "blind_index",
              "only string, email and phone fields can be blind-indexed");
    }
    r.Finish();
    if (named) {
      config_.fields.push_back(std::move(f));
    }
  }

  void CheckMaskFits(TableReader& r, const Field& f) {
    bool fits = true;
    switch (f.mask) {
      case MaskKind::kRedact:
        break;
      case MaskKind::kPhone:
        fits = f.type == FieldType::kPhone;
        break;
      case MaskKind::kEmail:
        fits = f.type == FieldType::kEmail;
        break;
      case MaskKind::kName:
        fits = f.type == FieldType::kString;
        break;
      case MaskKind::kDate:
      case MaskKind::kYear:
        fits = f.type == FieldType::kDate;
        break;
    }
    if (!fits) {
      r.Error(r.PosOf("mask"), "mask",
              "this mask does not fit a field of type " + std::string(FieldTypeName(f.type)));
    }
  }

  // Checks that every name in `names` is a declared field; returns the names.
  std::vector<std::string> FieldList(TableReader& r, std::string_view key) {
    std::vector<std::string> out;
    for (auto& name : r.Strings(key).value_or(std::vector<Located>{})) {
      if (!config_.FindField(name.value)) {
        r.Error(name.pos, key, "unknown field '" + name.value + "' (declare it as a [[field]])");
      }
      out.push_back(name.value);
    }
    return out;
  }

  // `derived`: kinds ("metrics") or kind.name items ("metrics.orders"); lifecycle has no items.
  void LoadDerived(TableReader& r, Purpose& p) {
    auto entries = r.Strings("derived");
    if (!entries) {
      return;
    }
    p.derived.entries.clear();
    for (const Located& e : *entries) {
      const std::string kind = e.value.substr(0, e.value.find('.'));
      const bool named = kind.size() < e.value.size();
      const auto& kinds = DerivedKinds();
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() ||
          (named && (kind == "lifecycle" || kind.size() + 1 == e.value.size()))) {
        r.Error(e.pos, "derived",
                "'" + e.value +
                    "' is not derived data: expected metrics, lifecycle, tags, segments, scores, "
                    "predictions, or one item of them such as \"metrics.orders\" or "
                    "\"tags.interest\" (a tag root)");
        continue;
      }
      p.derived.entries.push_back(e.value);
    }
  }

  void LoadPurpose(const toml::table& t) {
    TableReader r(t, "[[purpose]]", diag_);
    Purpose p;
    bool named = TakeName(r, "purpose", config_.purposes, p);
    p.basis = r.Enum<LawfulBasis>("basis",
                                  {{"consent", LawfulBasis::kConsent},
                                   {"contract", LawfulBasis::kContract},
                                   {"legitimate_interest", LawfulBasis::kLegitimateInterest}},
                                  true)
                  .value_or(LawfulBasis::kConsent);
    p.fields = FieldList(r, "fields");
    p.masked = FieldList(r, "masked");
    for (const auto& f : p.masked) {
      if (std::find(p.fields.begin(), p.fields.end(), f) != p.fields.end()) {
        r.Error(r.PosOf("masked"), "masked", "field '" + f + "' is also in 'fields'; pick one");
      }
    }
    if (const toml::table* cap = r.Table("cap")) {
      TableReader c(*cap, "purpose '" + p.name + "' cap", diag_);
      FrequencyCap fc;
      fc.max = static_cast<int>(c.Int("max", 1, 1'000'000).value_or(1));
      if (auto per = c.String("per", true)) {
        auto d = ParseDuration(per->value);
        if (!d) {
          c.Error(per->pos, "per", d.error().message());
        } else {
          fc.per = *d;
        }
      }
      fc.defer =
          c.Enum<bool>("over", {{"suppress", false}, {"defer", true}}, false).value_or(false);
      c.Finish();
      p.cap = fc;
    }
    if (auto q = r.String("quiet_hours")) {
      std::string_view s = q->value;
      if (s.size() != 11 || s[5] != '-' || !IsClockTime(s.substr(0, 5)) ||
          !IsClockTime(s.substr(6))) {
        r.Error(q->pos, "quiet_hours", "expected HH:MM-HH:MM, e.g. 21:00-08:00");
      }
      p.quiet_hours = q->value;
    }
    p.sensitive = r.Bool("sensitive").value_or(false);
    p.marketing = r.Bool("marketing").value_or(p.basis != LawfulBasis::kContract);
    LoadDerived(r, p);
    for (const auto& name : p.fields) {
      const Field* f = config_.FindField(name);
      if (f && f->field_class == FieldClass::kSensitive && !p.sensitive) {
        r.Error(r.PosOf("fields"), "fields",
                "field '" + name +
                    "' is sensitive; set sensitive = true on the purpose to use "
                    "it (each use then needs the customer's sensitive consent)");
      }
    }
    r.Finish();
    if (named) {
      config_.purposes.push_back(std::move(p));
    }
  }

  void LoadRole(const toml::table& t) {
    TableReader r(t, "[[role]]", diag_);
    Role role;
    bool named = TakeName(r, "role", config_.roles, role);
    for (auto& p : r.Strings("purposes").value_or(std::vector<Located>{})) {
      if (!config_.FindPurpose(p.value)) {
        r.Error(p.pos, "purposes",
                "unknown purpose '" + p.value + "' (declare it as a [[purpose]])");
      }
      role.purposes.push_back(p.value);
    }
    const auto& known = KnownPermissions();
    for (auto& c : r.Strings("can").value_or(std::vector<Located>{})) {
      if (std::find(known.begin(), known.end(), c.value) == known.end()) {
        r.Error(c.pos, "can", "unknown permission '" + c.value + "'");
      }
      role.can.push_back(c.value);
    }
    role.read = FieldList(r, "read");
    role.masked = FieldList(r, "masked");
    for (const auto& f : role.masked) {
      if (std::find(role.read.begin(), role.read.end(), f) != role.read.end()) {
        r.Error(r.PosOf("masked"), "masked", "field '" + f + "' is also in 'read'; pick one");
      }
    }
    r.Finish();
    if (named) {
      config_.roles.push_back(std::move(role));
    }
  }

  void LoadSink(const toml::table& t) {
    TableReader r(t, "[[sink]]", diag_);
    Sink s;
    bool named = TakeName(r, "sink", config_.sinks, s);
    s.type = r.Enum<SinkType>("type",
                              {{"webhook", SinkType::kWebhook},
                               {"file", SinkType::kFile},
                               {"exec", SinkType::kExec}},
                              true)
                 .value_or(SinkType::kWebhook);
    bool webhook = s.type == SinkType::kWebhook;
    if (auto v = r.String("url", webhook)) {
      if (!webhook) {
        r.Error(v->pos, "url", "only webhook sinks take a url");
      } else if (v->value.rfind("http://", 0) != 0 && v->value.rfind("https://", 0) != 0) {
        r.Error(v->pos, "url", "expected an http:// or https:// URL");
      }
      s.url = v->value;
    }
    if (auto v = r.String("secret_env")) {
      s.secret_env = v->value;
    }
    if (auto v = r.String("ca_file")) {
      s.ca_file = Resolve(base_, v->value);
    }
    if (auto v = r.String("path", s.type == SinkType::kFile)) {
      s.path = Resolve(base_, v->value);
    }
    if (auto v = r.String("command", s.type == SinkType::kExec)) {
      s.command = v->value;
    }
    for (auto& v : r.Strings("env").value_or(std::vector<Located>{})) {
      if (s.type != SinkType::kExec) {
        r.Error(v.pos, "env", "only exec sinks take env");
      } else if (v.value.empty() || v.value.find('=') != std::string::npos) {
        r.Error(v.pos, "env", "expected the name of an environment variable");
      }
      s.env.push_back(v.value);
    }
    s.max_attempts = static_cast<int>(r.Int("max_attempts", 1, 100).value_or(8));
    s.concurrency = static_cast<int>(r.Int("concurrency", 1, 256).value_or(4));
    for (auto [key, out] : {std::pair{"timeout", &s.timeout}, std::pair{"backoff", &s.backoff},
                            std::pair{"backoff_max", &s.backoff_max}}) {
      if (auto v = r.String(key)) {
        auto d = ParseDuration(v->value);
        if (!d || d->count() == 0) {
          r.Error(v->pos, key, d ? "must be at least 1s" : d.error().message());
        } else {
          *out = *d;
        }
      }
    }
    s.third_party = r.Bool("third_party").value_or(false);
    r.Finish();
    if (named) {
      config_.sinks.push_back(std::move(s));
    }
  }

  void LoadRetention(const toml::table& t) {
    TableReader r(t, "[[retention]]", diag_);
    Retention rule;
    rule.pos = r.pos();
    auto event = r.String("event");
    rule.field_class = r.Enum<FieldClass>(
        "class", {{"personal", FieldClass::kPersonal}, {"sensitive", FieldClass::kSensitive}});
    if (event) {
      rule.event_type = event->value;
    }
    if (event.has_value() == rule.field_class.has_value()) {
      diag_.Add(rule.pos, "[[retention]]: set exactly one of 'event' (an event type) and 'class'");
    }
    if (auto v = r.String("retain", true)) {
      auto d = ParseDuration(v->value);
      if (!d || d->count() == 0) {
        r.Error(v->pos, "retain", d ? "must be longer than zero" : d.error().message());
      } else {
        rule.retain = *d;
      }
    }
    r.Finish();
    config_.retention.push_back(std::move(rule));
  }

  const toml::table& root_;
  Diagnostics diag_;
  fs::path base_;
  Config config_;
};

}  // namespace

bool IsKnownTimeZone(std::string_view name) {
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  Diagnostics diag(path);
  std::optional<toml::table> table = ParseToml(text, diag);
  if (!table) {
    return Error(diag.ToStatus());
  }
  return Loader(*table, path).Load();
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(Status::NotFound("cannot read config file " + path +
                                  " (pass --config PATH, or run portraitctl init)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace portrait::config
