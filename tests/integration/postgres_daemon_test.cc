// portraitd on PostgreSQL ([store] kind = "postgres"): `portraitctl init` makes the schemas, the
// daemon serves writes, reads, events, timers and erasure from them across a restart, and
// PostgreSQL holds no clear value. On the test binary's own server
// (tests/support/postgres_server.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "store/postgres/pg.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/postgres_server.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpResult;
using testing::PostgresServer;

// A [store] table for `dbs`, each password in a 0600 file of `dir`.
std::string StoreSection(const PostgresServer& server, const PostgresServer::Databases& dbs,
                         const testing::TempDir& dir) {
  testing::WriteFile(dir / "main.pw", std::string(server.password().view()) + "\n");
  testing::WriteFile(dir / "keys.pw", std::string(server.keystore_password().view()));
  ::chmod((dir / "main.pw").c_str(), 0600);
  ::chmod((dir / "keys.pw").c_str(), 0600);
  return "[store]\nkind = \"postgres\"\nurl = \"" + dbs.url + "\"\nkeystore_url = \"" +
         dbs.keystore_url + "\"\npassword_file = \"" + (dir / "main.pw") +
         "\"\nkeystore_password_file = \"" + (dir / "keys.pw") + "\"\n";
}

// Every row of every table of the database at `url` in which `text` appears in clear, in a text
// or a bytea column.
int64_t RowsHolding(const std::string& url, const crypto::SecretBytes& password,
                    const std::string& text) {
  store::pg::Connection db = store::pg::Connection::Open(url, &password).value();
  auto columns = db.Run(
      "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND data_type IN ('text', 'bytea');");
  EXPECT_TRUE(columns) << columns.error().ToString();
  int64_t found = 0;
  for (int i = 0; columns && i < columns->size(); ++i) {
    const std::string column = "\"" + columns->Text(i, 1) + "\"";
    const std::string as_bytes =
        columns->Text(i, 2) == "bytea" ? column : "convert_to(" + column + ", 'UTF8')";
    auto n = db.Run("SELECT count(*) FROM \"" + columns->Text(i, 0) + "\" WHERE position($1 in " +
                        as_bytes + ") > 0;",
                    store::pg::Params().Bytes(text));
    EXPECT_TRUE(n) << n.error().ToString();
    found += n ? n->Int(0, 0) : 0;
  }
  return found;
}

class PostgresDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
    daemon_ = std::make_unique<Daemon>(StoreSection(*server_, dbs_, secrets_));
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
  testing::TempDir secrets_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(PostgresDaemon, ServesProfilesEventsTimersAndErasureFromPostgresAcrossARestart) {
  Daemon& d = *daemon_;
  EXPECT_FALSE(std::filesystem::exists(d.dir() / "var/portrait.db"));
  ASSERT_TRUE(d.Start("2026-06-10T00:00:00Z")) << d.Log();
  ASSERT_EQ(
      d.Admin(
           "PUT", "/v1/profiles/cust-2041",
           R"({"fields":{"name":"Kimberley","email":"kim@example.com","birthday":"1990-06-15"}})")
          .status,
      201);
  HttpResult events =
      d.Admin("POST", "/v1/events",
              R"([{"id":"o-1","type":"order.placed","subject":"cust-2041","data":{"amount":30}},
          {"id":"o-2","type":"order.placed","subject":"cust-2041","data":{"amount":12}},
          {"id":"o-1","type":"order.placed","subject":"cust-2041","data":{"amount":30}}])");
  ASSERT_EQ(events.status, 202) << events.body;
  EXPECT_EQ(events.json(), json({{"accepted", 2}, {"duplicates", 1}}));
  HttpResult found = d.Admin("GET", "/v1/profiles?email=kim@example.com");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(found.json()["ids"], json::array({"cust-2041"}));
  EXPECT_EQ(d.Stop(), 0);

  // 14 June 12:00Z: the greeting (09:00 Shanghai the day before the 15th) came due while down.
  ASSERT_TRUE(d.Start("2026-06-14T12:00:00Z")) << d.Log();
  ASSERT_TRUE(d.WaitForLog("fired a task")) << d.Log();
  ASSERT_EQ(d.TasksOf("cust-2041", "birthday-greeting").size(), 1u);
  HttpResult bundle = d.Admin("GET", "/v1/profiles/cust-2041/export");
  ASSERT_EQ(bundle.status, 200) << bundle.body;
  EXPECT_EQ(bundle.json()["events"].size(), 2u);
  EXPECT_EQ(bundle.json()["metrics"]["orders"], 2);
  EXPECT_EQ(bundle.json()["fields"]["name"], "Kimberley");
  HttpResult verify = d.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true) << verify.body;

  // PostgreSQL saw ciphertext, keyed digests and ids: no clear value in any column.
  for (const std::string& value : {"Kimberley", "kim@example.com", "1990-06-15", "cust-2041"}) {
    EXPECT_EQ(RowsHolding(dbs_.url, server_->password(), value), 0) << value;
    EXPECT_EQ(RowsHolding(dbs_.keystore_url, server_->keystore_password(), value), 0) << value;
  }

  HttpResult erased = d.Admin("DELETE", "/v1/profiles/cust-2041");
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(erased.json()["data_key"], "destroyed");
  EXPECT_EQ(d.Admin("GET", "/v1/profiles/cust-2041").status, 404);
  EXPECT_EQ(d.Stop(), 0);
}

// Backups, restores and key rotation are the SQLCipher files' (docs/DECISIONS.md 160).
TEST_F(PostgresDaemon, BackupAndKeyRotationAreRefusedSayingWhy) {
  std::string out;
  const std::string config = " --config " + daemon_->config_path();
  EXPECT_NE(testing::RunCommand(testing::BinDir() + "/portraitctl backup create" + config + " " +
                                    (secrets_ / "backup") + " 2>&1",
                                &out),
            0);
  EXPECT_NE(out.find("pg_dump or pg_basebackup"), std::string::npos) << out;
  EXPECT_NE(
      testing::RunCommand(testing::BinDir() + "/portraitctl key rotate" + config + " 2>&1", &out),
      0);
  EXPECT_NE(out.find("not available on PostgreSQL"), std::string::npos) << out;
}

}  // namespace
}  // namespace portrait
