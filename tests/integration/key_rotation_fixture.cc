#include "tests/integration/key_rotation_fixture.h"

#include "crypto/audit_signer.h"
#include "crypto/key_hierarchy.h"
#include "store/sqlcipher/sqlite.h"

namespace portrait::testing {

using nlohmann::json;

std::string AuditPublicKeyOf(const std::string& master) {
  auto secret = crypto::SecretBytes::CopyOf(master).value();
  auto keys = crypto::KeyHierarchy::Create(secret).value();
  return crypto::ToHex(crypto::AuditSigner::Create(keys.audit_seed()).value().public_key());
}

void KeyRotation::SetUp() {
  ASSERT_TRUE(daemon_.Start());
  for (int i = 0; i < kCustomers; ++i) {
    const std::string id = "k" + std::to_string(i);
    const std::string body = json{
        {"fields",
         {{"name", "Customer " + std::to_string(i)},
          {"email", id + "@example.com"},
          {"phone", "+8613800138" + std::to_string(100 + i)},
          {"city", "Suzhou"}}}}.dump();
    ASSERT_EQ(daemon_.Admin("PUT", "/v1/profiles/" + id, body).status, 201);
    const std::string events = json::array({{{"id", id + "-o1"},
                                             {"type", "order.placed"},
                                             {"subject", id},
                                             {"data", {{"amount", 10 + i}}}},
                                            {{"id", id + "-o2"},
                                             {"type", "order.placed"},
                                             {"subject", id},
                                             {"data", {{"amount", 3}}}}})
                                   .dump();
    ASSERT_EQ(daemon_.Admin("POST", "/v1/events", events).status, 202);
    const std::string consent = json{{"purpose", "marketing"},
                                     {"channel", "sms"},
                                     {"status", "granted"},
                                     {"evidence", "signed form " + std::to_string(i)}}
                                    .dump();
    ASSERT_EQ(daemon_.Admin("POST", "/v1/profiles/" + id + "/consents", consent).status, 201);
  }
  ASSERT_EQ(daemon_.Admin("DELETE", "/v1/profiles/k0").status, 200);  // a destroyed key too
  before_ = Snapshot();
  ASSERT_EQ(before_.size(), static_cast<size_t>(kCustomers - 1));
  ASSERT_EQ(daemon_.Stop(), 0);
}

void KeyRotation::TearDown() {
  if (daemon_.running()) {
    daemon_.Stop();
  }
}

std::string KeyRotation::KeyBytes() const { return ReadFile(KeyFile()); }

int KeyRotation::Ctl(const std::string& args, std::string* out, const std::string& env) const {
  out->clear();
  return RunCommand(
      env + BinDir() + "/portraitctl " + args + " --config " + daemon_.config_path() + " 2>&1",
      out);
}

int KeyRotation::VerifyExport(const std::string& file, const std::string& key,
                              std::string* out) const {
  out->clear();
  return RunCommand(
      BinDir() + "/portraitctl audit verify --file " + file + " --pubkey " + key + " 2>&1", out);
}

json KeyRotation::Status() const {
  std::string out;
  EXPECT_EQ(Ctl("key status --json", &out), 0) << out;
  return json::parse(out, nullptr, false);
}

std::map<std::string, json> KeyRotation::Snapshot() {
  std::map<std::string, json> out;
  for (int i = 1; i < kCustomers; ++i) {
    const std::string id = "k" + std::to_string(i);
    HttpResult bundle = daemon_.Admin("GET", "/v1/profiles/" + id + "/export");
    EXPECT_EQ(bundle.status, 200) << id << ": " << bundle.body;
    const json b = bundle.json();
    HttpResult found = daemon_.Admin("GET", "/v1/profiles?email=" + id + "@example.com");
    out[id] = json{{"fields", b.value("fields", json())},
                   {"events", b.value("events", json())},
                   {"consents", b.value("consents", json())},
                   {"metrics", b.value("metrics", json())},
                   {"found", found.json().value("ids", json())}};
  }
  return out;
}

bool KeyRotation::DatabasesOpenWith(const std::string& master) const {
  auto secret = crypto::SecretBytes::CopyOf(master).value();
  auto keys = crypto::KeyHierarchy::Create(secret).value();
  auto portrait =
      store::sqlite::Db::Open(daemon_.dir() / "var/portrait.db", keys.portrait_db_key(), false, 1);
  auto keystore =
      store::sqlite::Db::Open(daemon_.dir() / "var/keystore.db", keys.keystore_db_key(), false, 1);
  EXPECT_EQ(portrait.has_value(), keystore.has_value()) << "the databases are on different keys";
  return portrait.has_value() && keystore.has_value();
}

}  // namespace portrait::testing
