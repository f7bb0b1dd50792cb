// The authorisation property: over the shipped example config, random cases (role, purpose,
// endpoint, profile, consent state) driven through the real Api handler (Api::Handle over a real
// SQLCipher data directory, assembled as daemon/server.cc does, without sockets). In no answer
// of any endpoint may a value appear in clear that the role, acting for the purpose, may not
// read in clear — nor a masked value unmasked, nor a lookup confirm a value it sees masked.
//
// Every seeded value is a recognisable marker, so a leak is found by searching the answer:
//   words   Namemark07q, Mailmark07q / dommark07q (email), Citymark07q, Healthmark07q,
//           interest/tagmark07q (a tag): any run of letters and digits containing "mark"
//   digits  the 6 digits a phone's mask hides, in any run of digits of a string
//   dates   a birthday's year ("1967-"), and for a caller that may not see it at all its
//           month-day and the day before (an anniversary's next date), "-03-17"
//   exact   gender values and the "vip" tag, as whole strings
//   metrics the `spent` metric and the order amount (4321.75 + n), anywhere in the body
// The oracle is the config itself: a field is clear when the role reads it and the purpose
// lists it in `fields`; derived data as the purpose's `derived` allows.
//
// 100,000 cases in four shards (each case writes at least one audit record, a SQLCipher commit:
// a shard takes about a minute in the sanitizer build); PORTRAIT_AUTHZ_CASES sets a shard's
// count instead.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <unordered_set>

#include "base/time_format.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"
#include "daemon/send_gate.h"
#include "store/data_dir.h"
#include "tests/support/test_support.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kProfiles = 24;

config::Config ExampleInto(const testing::TempDir& dir) {
  const std::string examples = std::string(PORTRAIT_SOURCE_DIR) + "/examples";
  fs::copy_file(examples + "/portrait.toml", dir / "portrait.toml");
  fs::create_directories(dir / "rules");
  for (const auto& f : fs::directory_iterator(examples + "/rules")) {
    fs::copy_file(f.path(), dir / ("rules/" + f.path().filename().string()));
  }
  return config::LoadConfig(dir / "portrait.toml").value();
}

bool Has(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string Two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

// One seeded customer and the markers of its values.
struct Customer {
  std::string id;  // external
  int64_t internal = 0;
  json fields;
  std::string hidden_digits;  // what the phone's mask hides
  std::string year;           // "1967-"
  std::string month_day;      // "-03-17"
  std::string day_before;     // "-03-16"
  double spent = 0;           // 0: no orders
};

// What one (role, purpose) may not see.
struct Forbidden {
  std::unordered_set<std::string> words;   // "mark" tokens
  std::unordered_set<std::string> digits;  // 6-digit runs
  std::unordered_set<std::string> years;
  std::unordered_set<std::string> month_days;
  std::unordered_set<std::string> exact;
  std::vector<std::string> anywhere;  // raw body substrings (metrics)
};

struct Answer {
  int status = 0;
  std::string body;
};

class AuthorizationProperty : public ::testing::Test {
 protected:
  AuthorizationProperty() {
    for (const config::Role& r : config_.roles) {
      tokens_[r.name] = token_registry_.Create("t-" + r.name, r.name, "test").value();
    }
  }
  ~AuthorizationProperty() override { writer_.Stop(); }

  Answer Call(http::verb method, const std::string& target, const std::string& role,
              const std::string& purpose, const std::string& body = "",
              const std::string& remote = "127.0.0.1") {
    HttpRequest request{method, target, 11};
    if (!role.empty()) {
      request.set(http::field::authorization,
                  "Bearer " + (tokens_.count(role) ? tokens_[role] : role));
    }
    if (!purpose.empty()) {
      request.set("X-Purpose", purpose);
    }
    request.body() = body;
    request.prepare_payload();
    std::promise<HttpResponse> answered;
    std::future<HttpResponse> answer = answered.get_future();
    api_.Handle(std::move(request), remote,
                [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
    HttpResponse r = answer.get();
    return {static_cast<int>(r.result_int()), r.body()};
  }
  Answer Admin(http::verb method, const std::string& target, const std::string& body = "") {
    Answer a = Call(method, target, "admin", "service", body);
    EXPECT_LT(a.status, 300) << target << " " << a.body;
    return a;
  }

  void Seed();
  void SeedConsentsAndOrders(Customer& c, int n);
  Forbidden ForbiddenFor(const config::Role& role, const config::Purpose& purpose) const;
  void Check(uint64_t seed, int64_t cases);
  void RunCase(std::mt19937_64& rng, int64_t& leaks);
  Answer SendError(const Customer& c, const std::string& who, const std::string& purpose,
                   const std::string& remote, std::mt19937_64& rng, std::string& what);
  Answer Send(int endpoint, const Customer& c, const std::string& who, const std::string& purpose,
              const std::string& remote, std::mt19937_64& rng, std::string& what);
  std::vector<std::string> LeaksIn(const Answer& a, const Forbidden& f) const;

  testing::TempDir dir_;
  config::Config config_ = ExampleInto(dir_);
  config::ConfigHolder in_force_{std::make_shared<const config::Config>(config_)};
  store::DataDir data_ = store::InitDataDir(config_).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};  // 2027-01-15
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(data_.keys.audit_seed()).value();
  crypto::BlindIndex token_hasher_ = crypto::BlindIndex::Create(data_.keys.token_key(), 32).value();
  store::AuditLog audit_{*data_.store, signer_, data_.keys.audit_mac_key(), clock_};
  store::ProfileVault vault_{in_force_, *data_.store, data_.keys, data_.blind, clock_, &audit_};
  store::TokenRegistry token_registry_{*data_.store, audit_, token_hasher_, clock_};
  spdlog::logger log_{"authz", std::make_shared<spdlog::sinks::null_sink_st>()};
  ConsentService consents_{*data_.store, vault_, audit_, clock_, log_};
  ProfileService profiles_{vault_, consents_, audit_, clock_, log_};
  RulesHolder rules_{LoadRules(in_force_.Get()).value()};
  Telemetry metrics_;
  Ingestor ingestor_{*data_.store, vault_, consents_, audit_, rules_, data_.blind, clock_};
  Writer writer_{ingestor_, audit_, metrics_};
  ImportService imports_{vault_,    profiles_, *data_.store, data_.blind, writer_,
                         ingestor_, audit_,    clock_,       log_};
  Authenticator auth_{token_registry_, token_hasher_, clock_};
  SendGate sends_;
  TaskService tasks_{*data_.store, vault_, audit_, clock_};
  SegmentService segments_{*data_.store,
                           vault_,
                           profiles_,
                           audit_,
                           rules_,
                           clock_,
                           crypto::CursorSealer::Create().value()};
  ExportService exports_{*data_.store, vault_, consents_, rules_, audit_, clock_};
  RulesTestService rules_test_{*data_.store, vault_,      consents_, rules_,
                               audit_,       data_.blind, clock_};
  MergeService merges_{*data_.store, vault_, audit_, rules_, clock_, log_};
  DerivedHolder derived_{std::make_shared<const DerivedParams>()};
  JobRunner jobs_;
  KeptMarks kept_marks_{*data_.store, audit_};
  ModelService models_{
      DerivedDeps{*data_.store, vault_, audit_, rules_, derived_, jobs_, clock_, log_},
      kept_marks_};
  ScoreService scores_{
      DerivedDeps{*data_.store, vault_, audit_, rules_, derived_, jobs_, clock_, log_}, profiles_};
  StatsService stats_{*data_.store, audit_, clock_};
  TimelineService timeline_{*data_.store, vault_, profiles_, audit_, clock_};
  Api api_{ApiDeps{in_force_,   *data_.store,
                   vault_,      token_registry_,
                   audit_,      profiles_,
                   consents_,   tasks_,
                   segments_,   merges_,
                   exports_,    rules_test_,
                   sends_,      ingestor_,
                   writer_,     rules_,
                   auth_,       metrics_,
                   data_.blind, clock_,
                   log_,        [] { return Status::Ok(); },
                   imports_,    models_,
                   scores_,     stats_,
                   timeline_}};
  std::map<std::string, std::string> tokens_;
  std::vector<Customer> customers_;
  std::map<std::string, Forbidden> forbidden_;  // by "role/purpose"
  int64_t cases_run_ = 0;
};

// Customers with every field set to a marker, tags, orders (and so tasks) for some, and the
// consent states: marketing none / granted / withdrawn, care objected for every fourth,
// sensitive consent for service for every other.
// Customer `n`'s consent state (marketing none / granted / withdrawn, care objected for every
// fourth, sensitive consent for service for every other) and, for two in three, five orders.
void AuthorizationProperty::SeedConsentsAndOrders(Customer& c, int n) {
  if (n % 3 != 0) {
    Admin(http::verb::post, "/v1/profiles/" + c.id + "/consents",
          json{{"purpose", "marketing"}, {"status", n % 3 == 1 ? "granted" : "withdrawn"}}.dump());
  }
  if (n % 4 == 3) {
    Admin(http::verb::post, "/v1/profiles/" + c.id + "/consents",
          json{{"purpose", "care"}, {"status", "objected"}}.dump());
  }
  if (n % 2 == 1) {
    Admin(http::verb::post, "/v1/profiles/" + c.id + "/consents",
          json{{"purpose", "service"}, {"scope", "sensitive"}, {"status", "granted"}}.dump());
  }
  if (n % 3 != 2) {  // five orders: vip-thank-you fires (care), with the name and spent
    c.spent = 4321.75 + n;
    json events = json::array();
    for (int i = 0; i < 5; ++i) {
      events.push_back({{"id", c.id + "-o" + std::to_string(i)},
                        {"type", "order.placed"},
                        {"subject", c.id},
                        {"time", FormatRfc3339(clock_.NowUs())},
                        {"data", {{"amount", i == 0 ? c.spent : 0.0}}}});
    }
    Admin(http::verb::post, "/v1/events", events.dump());
  }
}

void AuthorizationProperty::Seed() {
  const char* genders[] = {"female", "male", "other"};
  std::set<std::string> internal_ids;
  for (int n = 0; n < kProfiles; ++n) {
    Customer c;
    c.id = "cust-" + Two(n);
    Admin(http::verb::put, "/v1/profiles/" + c.id, R"({"fields":{}})");
    c.internal = vault_.IdOf(c.id).value();
    internal_ids.insert(std::to_string(c.internal));
    customers_.push_back(c);
  }
  for (int n = 0; n < kProfiles; ++n) {
    Customer& c = customers_[n];
    // National number 139 HHHHHH TT: the mask shows 139 and TT; HHHHHH must not occur by chance
    // in an internal id (ids appear inside strings such as dedupe keys).
    for (int salt = 0;; ++salt) {
      c.hidden_digits = std::to_string(600'000 + (n * 7'919 + salt * 104'729) % 300'000);
      bool clash = std::any_of(
          internal_ids.begin(), internal_ids.end(),
          [&](const std::string& id) { return id.find(c.hidden_digits) != std::string::npos; });
      if (!clash) {
        break;
      }
    }
    const int month = 2 + n % 11, day = 10 + n % 15;
    c.year = std::to_string(1960 + n) + "-";
    c.month_day = "-" + Two(month) + "-" + Two(day);
    c.day_before = "-" + Two(month) + "-" + Two(day - 1);
    const std::string t = Two(n) + "q";
    c.fields = {{"name", "Namemark" + t},
                {"phone", "+86139" + c.hidden_digits + "21"},
                {"email", "Mailmark" + t + "@dommark" + t + ".com"},
                {"city", "Citymark" + t},
                {"birthday", c.year + Two(month) + "-" + Two(day)},
                {"gender", genders[n % 3]},
                {"health_note", "Healthmark" + t}};
    json patch = {{"fields", c.fields}, {"tags", {{"add", {"interest/tagmark" + t}}}}};
    if (n % 2 == 0) {
      patch["tags"]["add"].push_back("vip");
    }
    Admin(http::verb::put, "/v1/profiles/" + c.id, patch.dump());
    SeedConsentsAndOrders(c, n);
  }
}

Forbidden AuthorizationProperty::ForbiddenFor(const config::Role& role,
                                              const config::Purpose& purpose) const {
  auto clear = [&](const std::string& f) { return Has(role.read, f) && Has(purpose.fields, f); };
  auto masked = [&](const std::string& f) {
    return !clear(f) && (Has(purpose.fields, f) || Has(purpose.masked, f)) &&
           (Has(role.read, f) || Has(role.masked, f));
  };
  Forbidden out;
  for (const Customer& c : customers_) {
    const std::string t = c.fields["name"].get<std::string>().substr(8);  // "07q"
    for (const auto& [field, word] : {std::pair<std::string, std::string>{"name", "Namemark"},
                                      {"city", "Citymark"},
                                      {"health_note", "Healthmark"},
                                      {"email", "Mailmark"},
                                      {"email", "dommark"}}) {
      if (!clear(field)) {
        out.words.insert(word + t);
      }
    }
    if (!clear("phone")) {
      out.digits.insert(c.hidden_digits);
    }
    if (!clear("birthday")) {
      out.years.insert(c.year);
      if (!masked("birthday")) {
        out.month_days.insert(c.month_day);
        out.month_days.insert(c.day_before);
      }
    }
    if (!clear("gender")) {
      out.exact.insert(c.fields["gender"].get<std::string>());
    }
    if (!purpose.derived.AllowsTag("interest")) {
      out.words.insert("tagmark" + t);
    }
    if (c.spent > 0 && !purpose.derived.Allows("metrics", "spent")) {
      out.anywhere.push_back(fmt::format("{}", c.spent));
    }
  }
  if (!purpose.derived.AllowsTag("vip")) {
    out.exact.insert("vip");
  }
  return out;
}

// Every string of `j` (keys included), except the echoed instant `at` and chain hashes.
void Strings(const json& j, std::vector<std::string>& out) {
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.push_back(key);
      if (key != "at" && key != "hash") {
        Strings(value, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& item : j) {
      Strings(item, out);
    }
  }
}

std::vector<std::string> AuthorizationProperty::LeaksIn(const Answer& a, const Forbidden& f) const {
  std::vector<std::string> leaks;
  json parsed = json::parse(a.body, nullptr, false);
  std::vector<std::string> strings;
  // A body that is not JSON is /metrics' Prometheus text: counters and histogram sums, whose
  // long digit runs are not searched for phone digits.
  const bool text = parsed.is_discarded();
  if (text) {
    strings.push_back(a.body);
  } else {
    Strings(parsed, strings);
  }
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (const std::string& s : strings) {
    if (f.exact.contains(s)) {
      leaks.push_back("exact '" + s + "'");
    }
    for (size_t at = s.find("mark"); at != std::string::npos; at = s.find("mark", at + 4)) {
      size_t b = at, e = at + 4;
      while (b > 0 && is_word(s[b - 1])) --b;
      while (e < s.size() && is_word(s[e])) ++e;
      for (size_t cut = b; cut < at; ++cut) {  // "interest/tagmark07q": the run after '/'
        if (f.words.contains(s.substr(cut, e - cut))) {
          leaks.push_back("word '" + s.substr(cut, e - cut) + "'");
        }
      }
    }
    for (size_t i = 0; i < s.size();) {
      if (!is_digit(s[i])) {
        ++i;
        continue;
      }
      size_t e = i;
      while (e < s.size() && is_digit(s[e])) ++e;
      for (size_t k = i; !text && k + 6 <= e; ++k) {
        if (f.digits.contains(s.substr(k, 6))) {
          leaks.push_back("phone digits '" + s.substr(k, 6) + "'");
        }
      }
      if (e - i == 4 && e < s.size() && s[e] == '-' && f.years.contains(s.substr(i, 5))) {
        leaks.push_back("birth year '" + s.substr(i, 5) + "'");
      }
      i = e;
    }
    for (size_t i = 0; i + 6 <= s.size(); ++i) {
      if (s[i] == '-' && s[i + 3] == '-' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
          is_digit(s[i + 4]) && is_digit(s[i + 5]) && f.month_days.contains(s.substr(i, 6))) {
        leaks.push_back("birthday '" + s.substr(i, 6) + "'");
      }
    }
  }
  for (const std::string& raw : f.anywhere) {
    if (a.body.find(raw) != std::string::npos) {
      leaks.push_back("metric '" + raw + "'");
    }
  }
  return leaks;
}

std::string Percent(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c == '+' ? "%2B" : std::string(1, c);
  }
  return out;
}

// The purpose a request for `requested` acts for, or nullptr when it is refused.
const config::Purpose* Effective(const config::Config& config, const config::Role& role,
                                 const std::string& requested, bool administrative) {
  if (requested.empty()) {
    return role.purposes.size() == 1 || administrative ? config.FindPurpose(role.purposes[0])
                                                       : nullptr;
  }
  return Has(role.purposes, requested) ? config.FindPurpose(requested) : nullptr;
}

// A dry run's body: now, the instant a customer's birthday greeting is due, or another time,
// with an event one time in three.
json RulesTestBody(const Customer& c, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  static const std::string kAts[] = {"2027-01-15T08:00:00Z", "2027-06-30T12:00:00Z",
                                     "2027-01-18T02:00:00Z"};
  json body = {{"profile", c.id}};
  if (pick(2) == 0) {
    const std::string& birthday = c.fields["birthday"];
    const int day = std::stoi(birthday.substr(8)) - 1;
    body["at"] = "2027-" + birthday.substr(5, 3) + Two(day) +
                 "T01:00:" + Two(static_cast<int>(pick(60))) + "Z";
  } else {
    body["at"] = kAts[pick(3)];
  }
  if (pick(3) == 0) {
    body["event"] = {{"id", "dry-" + std::to_string(pick(1000))},
                     {"type", pick(2) ? "order.placed" : "cart.updated"},
                     {"subject", c.id},
                     {"time", "2027-01-15T08:00:00Z"},
                     {"data", {{"amount", 1}}}};
  }
  return body;
}

// A request that must fail or change nothing, whose error must not echo a value: a write of a
// field's own value, a value of the wrong shape, an unknown profile, a lookup by a field that has
// no blind index.
Answer AuthorizationProperty::SendError(const Customer& c, const std::string& who,
                                        const std::string& purpose, const std::string& remote,
                                        std::mt19937_64& rng, std::string& what) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string profile = "/v1/profiles/" + c.id;
  static const char* kFields[] = {"name",     "phone",  "email",      "city",
                                  "birthday", "gender", "health_note"};
  const std::string field = kFields[pick(7)];
  json patch;
  const int variant = static_cast<int>(pick(4));
  if (variant == 0) {  // the value it has: allowed or refused, never echoed
    patch = {{"fields", {{field, c.fields[field]}}}};
  } else if (variant == 1) {  // a value of the wrong shape
    patch = {{"fields", {{field == "name" ? "birthday" : field, c.fields["name"]}}}};
  }
  if (variant < 2) {
    return Call(http::verb::put, what = profile, who, purpose, patch.dump(), remote);
  } else if (variant == 2) {
    return Call(http::verb::get, what = profile + "-nobody", who, purpose, "", remote);
  } else {
    return Call(http::verb::get, what = "/v1/profiles?city=" + c.fields["city"].get<std::string>(),
                who, purpose, "", remote);
  }
}

// Sends one request of kind `endpoint` about customer `c`; `what` names it for messages.
Answer AuthorizationProperty::Send(int endpoint, const Customer& c, const std::string& who,
                                   const std::string& purpose, const std::string& remote,
                                   std::mt19937_64& rng, std::string& what) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  Answer a;
  const std::string profile = "/v1/profiles/" + c.id;
  switch (endpoint) {
    case 0:
      a = Call(http::verb::get, what = profile, who, purpose, "", remote);
      break;
    case 1: {
      const bool phone = pick(2) == 0;
      std::string value = c.fields[phone ? "phone" : "email"];
      if (phone && pick(2) == 0) {
        value = value.substr(3);  // national form
      }
      a = Call(
          http::verb::get,
          what = "/v1/profiles?" + std::string(phone ? "phone" : "email") + "=" + Percent(value),
          who, purpose, "", remote);
      break;
    }
    case 2:
      a = Call(http::verb::get, what = profile + "/export", who, purpose, "", remote);
      break;
    case 3: {
      json body = RulesTestBody(c, rng);
      a = Call(http::verb::post, what = "/v1/rules/test", who, purpose, body.dump(), remote);
      break;
    }
    case 4:
      a = Call(http::verb::get, what = pick(2) ? "/v1/tasks?profile=" + c.id : "/v1/tasks?limit=50",
               who, purpose, "", remote);
      break;
    case 5:
      a = Call(http::verb::get, what = profile + "/consents", who, purpose, "", remote);
      break;
    case 6:
      a = Call(http::verb::get,
               what = "/v1/audit?limit=40&after=" + std::to_string(pick(200 + 3 * cases_run_)), who,
               purpose, "", remote);
      break;
    case 7:
      a = Call(http::verb::get, what = "/metrics", who, purpose, "", remote);
      break;
    case 8:
      a = SendError(c, who, purpose, remote, rng, what);
      break;
    case 9:
      a = Call(http::verb::get, what = profile + "/events", who, purpose, "", remote);
      break;
    default: {
      static const char* kStatuses[] = {"granted", "withdrawn", "objected"};
      json body = {{"purpose", config_.purposes[pick(config_.purposes.size())].name},
                   {"status", kStatuses[pick(3)]}};
      if (pick(4) == 0) {
        body["scope"] = "sensitive";
      }
      a = Call(http::verb::post, what = profile + "/consents", who, purpose, body.dump(), remote);
      break;
    }
  }
  return a;
}

void AuthorizationProperty::RunCase(std::mt19937_64& rng, int64_t& leaks) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const config::Role& role = config_.roles[pick(config_.roles.size())];
  std::string purpose = role.purposes[pick(role.purposes.size())];
  const int twist = static_cast<int>(pick(100));
  if (twist < 4) {
    purpose = "";
  } else if (twist < 8) {
    purpose = config_.purposes[pick(config_.purposes.size())].name;
  }
  std::string who = role.name, remote = "127.0.0.1";
  if (twist == 98 || twist == 99) {
    who = twist == 98 ? "" : "ptk_not-a-token";
    remote = "10.0." + std::to_string(pick(250)) + "." + std::to_string(pick(250));
  }
  const Customer& c = customers_[pick(customers_.size())];
  const int endpoint = static_cast<int>(pick(11));
  const bool administrative = endpoint == 6 || endpoint == 7;
  static const config::Purpose kNothing = [] {
    config::Purpose p;
    p.derived.entries.clear();
    return p;
  }();
  const config::Purpose* acting =
      who == role.name ? Effective(config_, role, purpose, administrative) : nullptr;
  const std::string key = role.name + "/" + (acting ? acting->name : "-");
  if (!forbidden_.contains(key)) {
    forbidden_[key] = ForbiddenFor(role, acting ? *acting : kNothing);
  }
  const Forbidden& forbidden = forbidden_[key];

  std::string what;
  Answer a = Send(endpoint, c, who, purpose, remote, rng, what);
  if (endpoint == 1 && a.status == 200) {  // a lookup must not confirm a value seen masked
    const std::string field = what.find("?phone=") != std::string::npos ? "phone" : "email";
    const bool clear = acting && Has(role.read, field) && Has(acting->fields, field);
    json ids = json::parse(a.body, nullptr, false);
    if (!clear && ids.is_object() && ids["ids"].is_array() &&
        std::find(ids["ids"].begin(), ids["ids"].end(), json(c.id)) != ids["ids"].end()) {
      ++leaks;
      ADD_FAILURE() << role.name << "/" << purpose << " confirmed " << field << " of " << c.id;
    }
  }
  ++cases_run_;
  std::vector<std::string> found = LeaksIn(a, forbidden);
  if (!found.empty()) {
    leaks += static_cast<int64_t>(found.size());
    if (leaks < 20) {
      ADD_FAILURE() << "role " << role.name << " purpose '" << purpose << "' " << what << " -> "
                    << a.status << ": " << found[0] << "\n"
                    << a.body.substr(0, 2000);
    }
  }
}

// Runs `cases` random cases from `seed` (PORTRAIT_AUTHZ_CASES overrides the count).
void AuthorizationProperty::Check(uint64_t seed, int64_t cases) {
  Seed();
  if (const char* env = std::getenv("PORTRAIT_AUTHZ_CASES")) {
    cases = std::max<int64_t>(1, std::atoll(env));
  }
  std::mt19937_64 rng(seed);
  int64_t leaks = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < cases; ++i) {
    RunCase(rng, leaks);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("authorization property: %lld cases in %.1f s, %lld leaks\n",
              static_cast<long long>(cases), seconds, static_cast<long long>(leaks));
  EXPECT_EQ(leaks, 0);
}

// 100,000 cases in four shards of 25,000, which ctest runs side by side.
TEST_F(AuthorizationProperty, NoAnswerShowsAValueTheCallerMayNotReadInClear1) {
  Check(20261130, 25'000);
}
TEST_F(AuthorizationProperty, NoAnswerShowsAValueTheCallerMayNotReadInClear2) {
  Check(20261201, 25'000);
}
TEST_F(AuthorizationProperty, NoAnswerShowsAValueTheCallerMayNotReadInClear3) {
  Check(20261202, 25'000);
}
TEST_F(AuthorizationProperty, NoAnswerShowsAValueTheCallerMayNotReadInClear4) {
  Check(20261203, 25'000);
}

}  // namespace
}  // namespace portrait::daemon
