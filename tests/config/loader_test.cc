#include "config/loader.h"

#include <gtest/gtest.h>

#include <regex>

#include "tests/support/test_support.h"

namespace portrait::config {
namespace {

using testing::TestConfigText;

// Parses `text` as /cfg/portrait.toml and returns the error message (empty if it loaded).
std::string ErrorOf(const std::string& text) {
  auto config = ParseConfig(text, "/cfg/portrait.toml");
  return config ? "" : config.error().message();
}

// Replaces the first occurrence of `from` in the test config with `to`.
std::string TestConfigWith(const std::string& from, const std::string& to) {
  std::string text = TestConfigText();
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// The line (1-based) on which `needle` first appears in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

void ExpectErrorAt(const std::string& text, const std::string& needle,
                   const std::string& message_part) {
  std::string error = ErrorOf(text);
  std::string where = "/cfg/portrait.toml:" + std::to_string(LineOf(text, needle)) + ":";
  EXPECT_NE(error.find(where), std::string::npos) << "want " << where << " in: " << error;
  EXPECT_TRUE(std::regex_search(error, std::regex(R"(portrait\.toml:\d+:\d+: )"))) << error;
  EXPECT_NE(error.find(message_part), std::string::npos)
      << "want '" << message_part << "' in: " << error;
}

TEST(LoadConfig, LoadsTheExampleShapeAndResolvesPathsAgainstTheFile) {
  auto config = ParseConfig(TestConfigText(), "/cfg/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->daemon.data_dir, "/cfg/var");
  EXPECT_EQ(config->keys.file, "/cfg/var/master.key");
  EXPECT_EQ(config->daemon.timezone, "Asia/Shanghai");
  ASSERT_NE(config->FindField("phone"), nullptr);
  EXPECT_EQ(config->FindField("phone")->type, FieldType::kPhone);
  EXPECT_TRUE(config->FindField("phone")->blind_index);
  EXPECT_EQ(config->FindField("phone")->mask, MaskKind::kPhone);
  ASSERT_NE(config->FindPurpose("marketing"), nullptr);
  EXPECT_EQ(config->FindPurpose("marketing")->cap->max, 2);
  EXPECT_EQ(config->FindPurpose("marketing")->cap->per, std::chrono::seconds(7 * 86400));
  ASSERT_NE(config->FindRole("admin"), nullptr);
  EXPECT_EQ(config->FindRole("admin")->read.size(), 8u);
}

TEST(LoadConfig, TheShippedExampleLoads) {
  auto config = LoadConfig(std::string(PORTRAIT_SOURCE_DIR) + "/examples/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_NE(config->FindRole("admin"), nullptr);
  EXPECT_EQ(config->sinks.size(), 2u);
}

TEST(LoadConfig, UnknownKeyNamesFileLineColumnAndKey) {
  std::string text =
      TestConfigWith("phone_region = \"CN\"", "phone_region = \"CN\"\nlisten_on = \"x\"");
  ExpectErrorAt(text, "listen_on", "unknown key 'listen_on'");
}

TEST(LoadConfig, UnknownKeyInAnArrayTable) {
  std::string text = TestConfigWith("mask = \"phone\"", "mask = \"phone\"\nblindindex = true");
  ExpectErrorAt(text, "blindindex", "unknown key 'blindindex'");
}

TEST(LoadConfig, WrongTypeNamesTheKey) {
  std::string text = TestConfigWith("timezone = \"Asia/Shanghai\"", "timezone = 8");
  ExpectErrorAt(text, "timezone = 8", "key 'timezone': expected a string, got an integer");
}

TEST(LoadConfig, UnknownFieldInARole) {
  std::string text = TestConfigWith("read = [\"name\",", "read = [\"nmae\",");
  ExpectErrorAt(text, "\"nmae\"", "unknown field 'nmae'");
}

TEST(LoadConfig, UnknownPurposeInARole) {
  std::string text = TestConfigWith("purposes = [\"marketing\"]", "purposes = [\"marketting\"]");
  ExpectErrorAt(text, "\"marketting\"", "unknown purpose 'marketting'");
}

TEST(LoadConfig, UnknownFieldInAPurpose) {
  std::string text = TestConfigWith("fields = [\"name\", \"city\"", "fields = [\"name\", \"town\"");
  ExpectErrorAt(text, "\"town\"", "unknown field 'town'");
}

TEST(LoadConfig, DuplicateNames) {
  std::string text = TestConfigText() + "\n[[field]]\nname = \"city\"\ntype = \"string\"\n";
  std::string error = ErrorOf(text);
  int second = static_cast<int>(std::count(text.begin(), text.end(), '\n')) - 1;
  EXPECT_NE(error.find("portrait.toml:" + std::to_string(second) + ":"), std::string::npos)
      << error;
  EXPECT_NE(error.find("duplicate field name"), std::string::npos) << error;
  EXPECT_NE(error.find("first defined at /cfg/portrait.toml:" +
                       std::to_string(LineOf(text, "name = \"city\""))),
            std::string::npos)
      << error;
}

TEST(LoadConfig, AFieldNameStartingWithDollarIsTheVaults) {
  std::string text = TestConfigText() + "\n[[field]]\nname = \"$event\"\ntype = \"string\"\n";
  ExpectErrorAt(text, "\"$event\"", "must not start with '$'");
}

TEST(LoadConfig, DuplicateRoleName) {
  std::string text = TestConfigText() + "\n[[role]]\nname = \"admin\"\n";
  EXPECT_NE(ErrorOf(text).find("duplicate role name"), std::string::npos);
}

TEST(LoadConfig, MaskThatDoesNotFitTheFieldType) {
  std::string text =
      TestConfigWith("type = \"date\"\nmask = \"date\"", "type = \"date\"\nmask = \"phone\"");
  ExpectErrorAt(text, "mask = \"phone\"\n\n[[field]]\nname = \"score\"",
                "does not fit a field of type date");
}

TEST(LoadConfig, BadValuesAreNamed) {
  ExpectErrorAt(TestConfigWith("timezone = \"Asia/Shanghai\"", "timezone = \"Mars/Olympus\""),
                "Mars/Olympus", "unknown time zone");
  ExpectErrorAt(TestConfigWith("per = \"7d\"", "per = \"7 days\""), "7 days", "not a duration");
  ExpectErrorAt(TestConfigWith("quiet_hours = \"21:00-08:00\"", "quiet_hours = \"9pm-8am\""), "9pm",
                "HH:MM-HH:MM");
  ExpectErrorAt(TestConfigWith("can = [\"profiles.read\"", "can = [\"profiles.reed\""),
                "profiles.reed", "unknown permission");
  ExpectErrorAt(TestConfigWith("basis = \"consent\"", "basis = \"because\""), "because",
                "not one of: consent, contract, legitimate_interest");
}

TEST(LoadConfig, DerivedDataOfAPurpose) {
  auto config = ParseConfig(TestConfigWith("basis = \"consent\"",
                                           "basis = \"consent\"\nderived = [\"metrics.orders\", "
                                           "\"tags.interest\", \"segments\"]"),
                            "/cfg/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  const DerivedUse* derived = &config->purposes.at(0).derived;
  EXPECT_TRUE(derived->Allows("metrics", "orders"));
  EXPECT_FALSE(derived->Allows("metrics", "spent"));
  EXPECT_FALSE(derived->Allows("metrics"));
  EXPECT_FALSE(derived->Allows("lifecycle"));
  EXPECT_TRUE(derived->AllowsTag("interest/sports"));
  EXPECT_TRUE(derived->AllowsTag("interest"));
  EXPECT_FALSE(derived->AllowsTag("interests"));
  EXPECT_FALSE(derived->AllowsTag("vip"));
  EXPECT_TRUE(derived->Allows("segments", "churn-risk"));

  const DerivedUse absent =
      ParseConfig(TestConfigText(), "/cfg/portrait.toml")->purposes[0].derived;
  EXPECT_TRUE(absent.Allows("metrics", "spent"));  // every metric and the lifecycle, no tags
  EXPECT_TRUE(absent.Allows("lifecycle"));
  EXPECT_FALSE(absent.AllowsTag("vip"));

  for (const char* bad : {"metric", "lifecycle.new", "tags.", "fields.name", ""}) {
    ExpectErrorAt(TestConfigWith("basis = \"consent\"", std::string("basis = \"consent\"\n") +
                                                            "derived = [\"" + bad + "\"]"),
                  "derived =", "is not derived data");
  }
}

// A purpose is direct marketing unless its basis is a contract, or it says otherwise.
TEST(LoadConfig, MarketingDefaultsFromTheBasis) {
  auto basis = [](const std::string& with) {
    auto config = ParseConfig(TestConfigWith("basis = \"consent\"", with), "/cfg/portrait.toml");
    EXPECT_TRUE(config) << config.error().ToString();
    return config ? config->purposes.at(0).marketing : false;
  };
  EXPECT_TRUE(basis("basis = \"consent\""));
  EXPECT_TRUE(basis("basis = \"legitimate_interest\""));
  EXPECT_FALSE(basis("basis = \"contract\""));
  EXPECT_FALSE(basis("basis = \"legitimate_interest\"\nmarketing = false"));
  EXPECT_TRUE(basis("basis = \"contract\"\nmarketing = true"));
  ExpectErrorAt(TestConfigWith("basis = \"consent\"", "basis = \"consent\"\nmarketing = \"yes\""),
                "marketing =", "expected a boolean");
}

TEST(LoadConfig, KeysNeedExactlyOneSource) {
  std::string text = TestConfigWith("file = \"var/master.key\"",
                                    "file = \"var/master.key\"\npassphrase_env = \"P\"");
  EXPECT_NE(ErrorOf(text).find("exactly one of 'file' and 'passphrase_env'"), std::string::npos);
}

TEST(LoadConfig, TomlSyntaxErrorsCarryPosition) {
  std::string error = ErrorOf("[daemon]\ndata_dir = \"var\nx = 1\n");
  EXPECT_TRUE(std::regex_search(error, std::regex(R"(portrait\.toml:2:\d+: )"))) << error;
}

TEST(LoadConfig, ReportsEveryErrorAtOnce) {
  std::string text = TestConfigWith("purposes = [\"marketing\"]", "purposes = [\"nope\"]");
  text = text.replace(text.find("timezone = \"Asia"), 8, "timezon_");
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("unknown purpose 'nope'"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key 'timezon_'"), std::string::npos) << error;
}

TEST(LoadConfig, MissingFileSaysWhatToDo) {
  auto config = LoadConfig("/nonexistent/portrait.toml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), Status::Code::kNotFound);
  EXPECT_NE(config.error().message().find("/nonexistent/portrait.toml"), std::string::npos);
}

// [store] (docs/CONFIG.md): none keeps SQLCipher; PostgreSQL needs both URLs, and a password
// only ever from the environment or a file.
TEST(LoadConfig, WithoutAStoreSectionTheStoreIsSqlcipher) {
  auto config = ParseConfig(TestConfigText(), "/cfg/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->store.kind, StoreKind::kSqlcipher);
  EXPECT_TRUE(config->store.url.empty());
}

std::string WithStore(const std::string& lines) {
  return TestConfigWith("[keys]\n", "[store]\n" + lines + "\n[keys]\n");
}

TEST(LoadConfig, APostgresStoreReadsItsUrlsAndWhereItsPasswordsAre) {
  auto config =
      ParseConfig(WithStore("kind = \"postgres\"\n"
                            "url = \"postgresql://portrait@db:5432/portrait?sslmode=verify-full\"\n"
                            "keystore_url = \"postgresql://portrait_keys@db/portrait_keys\"\n"
                            "password_env = \"PORTRAIT_PG_PASSWORD\"\n"
                            "keystore_password_file = \"secrets/keys.pw\"\n"),
                  "/cfg/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->store.kind, StoreKind::kPostgres);
  EXPECT_EQ(config->store.url, "postgresql://portrait@db:5432/portrait?sslmode=verify-full");
  EXPECT_EQ(config->store.password_env, "PORTRAIT_PG_PASSWORD");
  EXPECT_EQ(config->store.keystore_password_file, "/cfg/secrets/keys.pw");
}

TEST(LoadConfig, APasswordInAStoreUrlIsRefusedWhereItIsWritten) {
  const std::string keys = "keystore_url = \"postgresql://k@db/keys\"\n";
  ExpectErrorAt(
      WithStore("kind = \"postgres\"\nurl = \"postgresql://portrait:hunter2@db/p\"\n" + keys),
      "url = ", "holds a password");
  ExpectErrorAt(WithStore("kind = \"postgres\"\nurl = \"host=db password=hunter2\"\n" + keys),
                "url = ", "holds a password");
  ExpectErrorAt(WithStore("kind = \"postgres\"\nurl = \"postgresql://p@db/p?PassWord=x\"\n" + keys),
                "url = ", "holds a password");
  // A user and a port are not a password.
  EXPECT_EQ(ErrorOf(WithStore("kind = \"postgres\"\nurl = \"postgresql://p@db:5432/p\"\n" + keys)),
            "");
}

TEST(LoadConfig, AStoreSectionThatCannotWorkIsRefused) {
  EXPECT_NE(ErrorOf(WithStore("kind = \"postgres\"\nkeystore_url = \"postgresql://k@db/k\"\n"))
                .find("key 'url'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WithStore("kind = \"postgres\"\nurl = \"postgresql://p@db/p\"\n"
                              "keystore_url = \"postgresql://p@db/p\"\n"))
                .find("another database"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WithStore("kind = \"postgres\"\nurl = \"postgresql://p@db/p\"\n"
                              "keystore_url = \"postgresql://k@db/k\"\npassword_env = \"A\"\n"
                              "password_file = \"b\"\n"))
                .find("at most one of 'password_env' and 'password_file'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WithStore("url = \"postgresql://p@db/p\"\n")).find("for kind = \"postgres\""),
            std::string::npos);
  ExpectErrorAt(WithStore("kind = \"mysql\"\n"), "\"mysql\"", "not one of: sqlcipher, postgres");
}

// [cluster] (docs/CONFIG.md): a node's name, address, partition count and lease, on PostgreSQL.
const std::string kPgStore =
    "kind = \"postgres\"\nurl = \"postgresql://p@db/p\"\nkeystore_url = \"postgresql://k@db/k\"\n";

TEST(LoadConfig, AClusterSectionNamesTheNodeItsAddressPartitionsAndLease) {
  auto config =
      ParseConfig(WithStore(kPgStore + "[cluster]\nnode = \"node-1\"\n"
                                       "address = \"http://10.0.0.5:8080\"\npartitions = 64\n"
                                       "lease = \"5s\"\n"),
                  "/cfg/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_TRUE(config->cluster.enabled);
  EXPECT_EQ(config->cluster.node, "node-1");
  EXPECT_EQ(config->cluster.address, "http://10.0.0.5:8080");
  EXPECT_EQ(config->cluster.partitions, 64);
  EXPECT_EQ(config->cluster.lease, std::chrono::seconds(5));
  auto plain = ParseConfig(WithStore(kPgStore), "/cfg/portrait.toml");
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_FALSE(plain->cluster.enabled);
}

TEST(LoadConfig, AClusterSectionThatCannotWorkIsRefusedWhereItIsWritten) {
  const std::string node = "[cluster]\nnode = \"n1\"\naddress = \"http://n1:8080\"\n";
  ExpectErrorAt(WithStore(kPgStore + "[cluster]\nnode = \"n 1\"\naddress = \"http://n:1\"\n"),
                "\"n 1\"", "must be 1 to 64 letters");
  ExpectErrorAt(WithStore(kPgStore + "[cluster]\nnode = \"n1\"\naddress = \"n1:8080\"\n"),
                "\"n1:8080\"", "http:// or https://");
  ExpectErrorAt(WithStore(kPgStore + node + "lease = \"1s\"\n"), "\"1s\"", "from 2s to 10m");
  ExpectErrorAt(WithStore(kPgStore + node + "partitions = 0\n"), "partitions = 0", "partitions");
  EXPECT_NE(
      ErrorOf(WithStore(kPgStore + "[cluster]\naddress = \"http://n1:8080\"\n")).find("key 'node'"),
      std::string::npos);
  EXPECT_NE(ErrorOf(WithStore("kind = \"sqlcipher\"\n" + node)).find("needs [store] kind"),
            std::string::npos);
}

}  // namespace
}  // namespace portrait::config
