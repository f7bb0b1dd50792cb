// The HTTP API of a real portraitd on 127.0.0.1: every endpoint's success path and its problem
// answers (401, 403, 404, 422 per schema error class, 400, 413), each an RFC 9457 body naming
// the field; rate limiting of bad tokens; SIGHUP with a broken rule file.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "examples/sample_data.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpResult;

class Api : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.Start());
    auditor_ = daemon_.CreateToken("auditor-1", "auditor");
    ASSERT_EQ(daemon_
                  .Admin("PUT", "/v1/profiles/c1",
                         R"({"fields":{"name":"Ada","email":"ada@example.com",
                                "birthday":"1990-06-15","city":"杭州"}})")
                  .status,
              201);
  }

  HttpResult As(const std::string& token, const std::string& method, const std::string& target,
                const std::string& body = "", const std::string& purpose = "service") {
    std::map<std::string, std::string> headers = {{"X-Purpose", purpose}};
    if (!token.empty()) {
      headers["Authorization"] = "Bearer " + token;
    }
    return daemon_.client().Send(method, target, body, headers);
  }

  // Asserts an RFC 9457 answer with `status` whose detail contains `names`.
  static void ExpectProblem(const HttpResult& r, int status, const std::string& names,
                            const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json") << what;
    json body = r.json();
    ASSERT_TRUE(body.is_object()) << what;
    EXPECT_EQ(body.value("status", 0), status) << what;
    EXPECT_NE(body.value("detail", "").find(names), std::string::npos)
        << what << ": detail '" << body.value("detail", "") << "' should name '" << names << "'";
  }

  struct Endpoint {
    std::string method, target, body;
    std::string permission;  // what the auditor (or, where it has it, the marketer) lacks
  };

  std::vector<Endpoint> Endpoints() const {
    const std::string event = R"({"id":"e-1","type":"order.placed","subject":"c1"})";
    return {
        {"PUT", "/v1/profiles/c1", R"({"fields":{"city":"上海"}})", "profiles.write"},
        {"GET", "/v1/profiles/c1", "", "profiles.read"},
        {"GET", "/v1/profiles?email=ada@example.com", "", "profiles.read"},
        {"GET", "/v1/profiles/c1/export", "", "export"},
        {"POST", "/v1/events", event, "events.write"},
        {"POST", "/v1/profiles/c1/consents",
         R"({"purpose":"marketing","channel":"sms","status":"granted"})", "consents.write"},
        {"GET", "/v1/profiles/c1/consents", "", "consents.read"},
        {"POST", "/v1/rules/test", R"({"profile":"c1"})", "rules.test"},
        {"POST", "/v1/admin/reload", "", "admin"},
        {"GET", "/v1/audit?after=0&limit=5", "", "audit.read"},
        {"GET", "/v1/audit/verify", "", "audit.read"},
        {"POST", "/v1/tokens", R"({"name":"n1","role":"marketer"})", "admin"},
        {"GET", "/v1/tokens", "", "admin"},
        {"GET", "/metrics", "", ""},
        {"DELETE", "/v1/profiles/c1", "", "erase"},
    };
  }

  Daemon daemon_;
  std::string auditor_;
};

TEST_F(Api, HealthzNeedsNoToken) {
  HttpResult r = As("", "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "ok");
}

TEST_F(Api, EveryEndpointSucceedsForAdminAndRefusesWithoutTokenOrPermission) {
  const std::string marketer = daemon_.CreateToken("marketer-1", "marketer");
  int bad_tokens = 0;
  for (const Endpoint& e : Endpoints()) {
    const std::string what = e.method + " " + e.target;
    // A missing or wrong token counts against the address (10 a minute); stay under the limit.
    if (++bad_tokens < 10) {
      ExpectProblem(As("", e.method, e.target, e.body), 401, "token", what + " without token");
    }
    if (++bad_tokens < 10) {
      ExpectProblem(As("ptk_" + std::string(43, 'A'), e.method, e.target, e.body), 401, "token",
                    what + " with a bad token");
    }
    if (!e.permission.empty()) {
      const bool auditor_may = e.permission == "consents.read" || e.permission == "audit.read";
      ExpectProblem(As(auditor_may ? marketer : auditor_, e.method, e.target, e.body, ""), 403,
                    e.permission, what + (auditor_may ? " as marketer" : " as auditor"));
    }
    HttpResult ok = daemon_.Admin(e.method, e.target, e.body);
    EXPECT_GE(ok.status, 200) << what << ": " << ok.body;
    EXPECT_LT(ok.status, 300) << what << ": " << ok.body;
  }
  // The refusals are in the audit log, naming the permission, never a value.
  HttpResult audit = daemon_.Admin("GET", "/v1/audit?after=0&limit=1000");
  ASSERT_EQ(audit.status, 200);
  int refused = 0, unauthenticated = 0;
  const json records = audit.json()["records"];
  for (const json& r : records) {
    refused += r["action"] == "request.refused";
    unauthenticated += r["action"] == "request.unauthenticated";
  }
  EXPECT_GE(refused, 12);
  // 9 requests with a bad token or none: every refusal under the limit is audited (by address).
  EXPECT_EQ(unauthenticated, 9);
  EXPECT_EQ(audit.body.find("ada@example.com"), std::string::npos);
}

TEST_F(Api, SuccessBodiesCarryWhatTheSpecSays) {
  HttpResult view = daemon_.Admin("GET", "/v1/profiles/c1");
  ASSERT_EQ(view.status, 200);
  EXPECT_EQ(view.json()["fields"]["city"], "杭州");
  EXPECT_TRUE(view.json()["withheld"].is_array());

  // The marketer sees only name and city, and email not at all for marketing.
  std::string marketer = daemon_.CreateToken("mk", "marketer");
  ASSERT_EQ(daemon_
                .Admin("POST", "/v1/profiles/c1/consents",
                       R"({"purpose":"marketing","channel":"any","status":"granted"})")
                .status,
            201);
  HttpResult masked = As(marketer, "GET", "/v1/profiles/c1", "", "");
  ASSERT_EQ(masked.status, 200) << masked.body;
  EXPECT_EQ(masked.json()["fields"].count("birthday"), 0u);
  EXPECT_EQ(masked.body.find("ada@example.com"), std::string::npos);

  HttpResult found = daemon_.Admin("GET", "/v1/profiles?email=%20ADA@example.com");
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(found.json()["ids"], json::array({"c1"}));

  HttpResult events =
      daemon_.Admin("POST", "/v1/events",
                    R"([{"id":"o-1","type":"order.placed","subject":"c1","data":{"amount":30}},
          {"id":"o-2","type":"order.placed","subject":"c1","data":{"amount":12}},
          {"id":"o-1","type":"order.placed","subject":"c1","data":{"amount":30}},
          {"id":"o-3","type":"cart.updated","subject":"new-customer"}])");
  ASSERT_EQ(events.status, 202) << events.body;
  EXPECT_EQ(events.json(), json({{"accepted", 3}, {"duplicates", 1}}));

  HttpResult bundle = daemon_.Admin("GET", "/v1/profiles/c1/export");
  ASSERT_EQ(bundle.status, 200);
  json b = bundle.json();
  EXPECT_EQ(b["events"].size(), 2u);
  EXPECT_EQ(b["metrics"]["orders"], 2);
  EXPECT_EQ(b["metrics"]["spent"], 42.0);
  EXPECT_EQ(b["consents"]["history"].size(), 1u);
  EXPECT_EQ(b["fields"]["email"], "ada@example.com");
  // An unknown subject became a bare profile.
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/new-customer").status, 200);

  HttpResult erased = daemon_.Admin("DELETE", "/v1/profiles/c1");
  ASSERT_EQ(erased.status, 200);
  EXPECT_EQ(erased.json()["data_key"], "destroyed");
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 404);

  HttpResult verify = daemon_.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true) << verify.body;

  HttpResult metrics = daemon_.Admin("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portrait_events_accepted_total 3"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("portrait_commit_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics.body.find("portrait_tasks{state=\"pending\"}"), std::string::npos);
}

// A lookup by email names a profile only where a read would show its email: after the customer
// objected to processing for "care", a "care" lookup confirms nothing; "service" (contract) still
// finds it.
TEST_F(Api, AFindNamesNoProfileWhoseLedgerHidesTheFieldFromThePurpose) {
  ASSERT_EQ(
      daemon_.Admin("PUT", "/v1/profiles/obj", R"({"fields":{"email":"obj@example.com"}})").status,
      201);
  const std::string find = "/v1/profiles?email=obj@example.com";
  EXPECT_EQ(daemon_.Admin("GET", find, "", "care").json()["ids"], json::array({"obj"}));
  ASSERT_EQ(daemon_
                .Admin("POST", "/v1/profiles/obj/consents",
                       R"({"purpose":"care","channel":"any","status":"objected"})")
                .status,
            201);
  HttpResult read = daemon_.Admin("GET", "/v1/profiles/obj", "", "care");
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body.find("obj@example.com"), std::string::npos);
  EXPECT_EQ(daemon_.Admin("GET", find, "", "care").json()["ids"], json::array());
  EXPECT_EQ(daemon_.Admin("GET", find, "", "service").json()["ids"], json::array({"obj"}));
}

TEST_F(Api, NotFoundAnswers) {
  const std::vector<std::pair<std::string, std::string>> missing = {
      {"GET", "/v1/profiles/nobody"},        {"DELETE", "/v1/profiles/nobody"},
      {"GET", "/v1/profiles/nobody/export"}, {"GET", "/v1/profiles/nobody/consents"},
      {"GET", "/v1/nothing-here"},           {"DELETE", "/v1/tokens/nobody"}};
  for (const auto& [method, target] : missing) {
    ExpectProblem(daemon_.Admin(method, target), 404, "", method + " " + target);
  }
  ExpectProblem(daemon_.Admin("POST", "/v1/profiles/nobody/consents",
                              R"({"purpose":"care","channel":"sms","status":"objected"})"),
                404, "", "consent for nobody");
  ExpectProblem(daemon_.Admin("POST", "/v1/rules/test", R"({"profile":"nobody"})"), 404, "",
                "rules test for nobody");
}

TEST_F(Api, SchemaErrorsAre422NamingTheField) {
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> cases = {
      {"PUT", "/v1/profiles/c2", R"({"fields":{"shoe_size":42}})", "shoe_size"},          // unknown
      {"PUT", "/v1/profiles/c2", R"({"fields":{"birthday":19900615}})", "birthday"},      // type
      {"PUT", "/v1/profiles/c2", R"({"fields":{"birthday":"1990-02-30"}})", "birthday"},  // date
      {"PUT", "/v1/profiles/c2", R"({"timezone":"Mars/Olympus_Mons"})", "timezone"},      // zone
      {"PUT", "/v1/profiles/c2", R"({"fields":{"email":"not an email"}})", "email"},
      {"PUT", "/v1/profiles/c2", R"({"colour":"red"})", "colour"},
      {"POST", "/v1/events", R"([{"id":"x","type":"order.placed"}])", "[0].subject"},
      {"POST", "/v1/events", R"({"id":"x","type":"a b","subject":"c1"})", "type"},
      {"POST", "/v1/events", R"({"id":"x","type":"t","subject":"c1","time":"yesterday"})", "time"},
      {"POST", "/v1/events", R"({"id":"x","type":"t","subject":"c1","data":[1]})", "data"},
      {"POST", "/v1/profiles/c1/consents", R"({"purpose":"care","channel":"sms","status":"maybe"})",
       "status"},
      {"POST", "/v1/profiles/c1/consents",
       R"({"purpose":"nope","channel":"sms","status":"granted"})", "purpose"},
      {"POST", "/v1/rules/test", R"({"profile":"c1","at":"noon"})", "at"},
      {"POST", "/v1/tokens", R"({"name":"x","role":"janitor"})", "role"},
  };
  for (const auto& [method, target, body, field] : cases) {
    ExpectProblem(daemon_.Admin(method, target, body), 422, field, method + " " + body);
  }
  // Nothing was stored by the refused writes.
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 404);
}

TEST_F(Api, MalformedJsonIs400AndOversizedBodiesAre413) {
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"PUT", "/v1/profiles/c1"},
                                                        {"POST", "/v1/events"},
                                                        {"POST", "/v1/profiles/c1/consents"},
                                                        {"POST", "/v1/rules/test"},
                                                        {"POST", "/v1/tokens"}}) {
    ExpectProblem(daemon_.Admin(method, target, R"({"fields": {)"), 400, "JSON", target);
  }
  const std::string huge = R"({"fields":{"city":")" + std::string(2 << 20, 'x') + R"("}})";
  ExpectProblem(daemon_.Admin("PUT", "/v1/profiles/c1", huge), 413, "limit", "2 MiB profile");
  ExpectProblem(daemon_.Admin("POST", "/v1/events", huge), 413, "limit", "2 MiB events");
  // The daemon is still serving.
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 200);
}

TEST_F(Api, RepeatedBadTokensFromOneAddressAreRateLimited) {
  int limited_at = 0;
  for (int i = 1; i <= 15 && !limited_at; ++i) {
    HttpResult r = As("ptk_wrong" + std::to_string(i), "GET", "/v1/profiles/c1");
    if (r.status == 429) {
      limited_at = i;
    } else {
      EXPECT_EQ(r.status, 401);
    }
  }
  EXPECT_EQ(limited_at, 11);
  // A good token from that address is still accepted (other local clients share 127.0.0.1).
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 200);
  ExpectProblem(As("ptk_wrong16", "GET", "/v1/profiles/c1"), 429, "retry", "bad token limited");
  // Requests without a token count too; past the limit a flood is answered without an audit
  // record each: the 10 failures under the limit are in the log, the 40 after them are not.
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(As("", "GET", "/v1/profiles/c1").status, 429);
  }
  const json records = daemon_.Admin("GET", "/v1/audit?after=0&limit=10000").json()["records"];
  int unauthenticated = 0;
  for (const json& r : records) {
    unauthenticated += r["action"] == "request.unauthenticated";
  }
  EXPECT_EQ(unauthenticated, 10);
}

TEST_F(Api, SighupWithABrokenRuleFileKeepsTheOldRulesAndNamesTheSpot) {
  {
    std::ofstream care(daemon_.dir() / "rules/care.toml", std::ios::app);
    care << "\n[[trigger]]\nid = \"broken\"\npurpose = \"care\"\non.event = \n";
  }
  daemon_.Signal(SIGHUP);
  ASSERT_TRUE(daemon_.WaitForLog("reload refused"));
  EXPECT_TRUE(daemon_.WaitForLog("care.toml:44:12")) << daemon_.Log();
  HttpResult reload = daemon_.Admin("POST", "/v1/admin/reload");
  ExpectProblem(reload, 422, "care.toml:44:12", "reload with a broken file");
  // The old rules still answer.
  HttpResult test = daemon_.Admin("POST", "/v1/rules/test", R"({"profile":"c1"})", "care");
  ASSERT_EQ(test.status, 200);
  EXPECT_EQ(test.json()["triggers"].size(), 3u);  // the care triggers
}

TEST_F(Api, ReloadAppliesAChangedConfigKeepsStartOnlySettingsAndRefusesABrokenOne) {
  const std::string new_role = R"({"name": "ops-bot", "role": "reporter"})";
  ExpectProblem(daemon_.Admin("POST", "/v1/tokens", new_role), 422, "role", "before the reload");
  {
    std::ofstream config(daemon_.config_path(), std::ios::app);
    config << "\n[[role]]\nname = \"reporter\"\npurposes = [\"service\"]\ncan = [\"audit.read\"]\n";
  }
  std::string text = testing::ReadFile(daemon_.config_path());
  const std::string listen = "listen = \"127.0.0.1:7451\"";
  ASSERT_NE(text.find(listen), std::string::npos);
  text.replace(text.find(listen), listen.size(), "listen = \"127.0.0.1:1\"");
  const std::string sink_url = "http://127.0.0.1:8080/hooks/portrait";
  ASSERT_NE(text.find(sink_url), std::string::npos);
  text.replace(text.find(sink_url), sink_url.size(), "http://127.0.0.1:8081/hooks");
  { std::ofstream(daemon_.config_path()) << text; }
  daemon_.Signal(SIGHUP);
  ASSERT_TRUE(daemon_.WaitForLog("config and rules reloaded")) << daemon_.Log();
  EXPECT_TRUE(daemon_.WaitForLog("daemon.listen changed")) << daemon_.Log();
  EXPECT_TRUE(daemon_.WaitForLog("[[sink]] changed")) << daemon_.Log();
  // The new role is in force; the daemon still listens where it did.
  HttpResult created = daemon_.Admin("POST", "/v1/tokens", new_role);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string reporter = created.json()["token"];
  EXPECT_EQ(As(reporter, "GET", "/v1/audit/verify").status, 200);

  // A broken portrait.toml: refused with its spot named, and the config in force stays.
  {
    std::ofstream config(daemon_.config_path(), std::ios::app);
    config << "\n[[role]]\nname = \n";
  }
  HttpResult reload = daemon_.Admin("POST", "/v1/admin/reload");
  ExpectProblem(reload, 422, "portrait.toml:", "reload with a broken config");
  EXPECT_TRUE(daemon_.WaitForLog("reload refused")) << daemon_.Log();
  EXPECT_EQ(As(reporter, "GET", "/v1/audit/verify").status, 200);
}

TEST_F(Api, GracefulStopAnswersThenExitsZeroWithASignedCheckpoint) {
  EXPECT_EQ(daemon_.Stop(), 0);
  EXPECT_TRUE(daemon_.WaitForLog("portraitd stopped"));
  ASSERT_TRUE(daemon_.Start());
  HttpResult verify = daemon_.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true);
  EXPECT_GE(verify.json()["checkpoints"].get<int>(), 1);
}

}  // namespace
}  // namespace portrait

namespace portrait {
namespace {

TEST(Portraitctl, TokenCreateListRevokeThroughTheRunningDaemon) {
  testing::Daemon daemon;
  ASSERT_TRUE(daemon.Start());
  const std::string ctl = testing::BinDir() + "/portraitctl token ";
  const std::string where = " --config " + daemon.config_path() +
                            " --url http://127.0.0.1:" + std::to_string(daemon.port());
  std::string out;
  ASSERT_EQ(testing::RunCommand(ctl + "create --name crm-sync --role marketer" + where, &out), 0)
      << out;
  std::string token = out.substr(0, out.find('\n'));
  ASSERT_EQ(token.rfind("ptk_", 0), 0u) << out;

  // The new token works, for its role.
  cli::HttpClient client(daemon.port());
  auto as_crm = [&](const std::string& target) {
    return client.Send("GET", target, "", {{"Authorization", "Bearer " + token}}).status;
  };
  EXPECT_EQ(as_crm("/v1/profiles/nobody"), 404);
  EXPECT_EQ(as_crm("/v1/tokens"), 403);

  out.clear();
  ASSERT_EQ(testing::RunCommand(ctl + "list --json" + where, &out), 0) << out;
  auto list = nlohmann::json::parse(out);
  ASSERT_EQ(list["tokens"].size(), 2u);
  EXPECT_EQ(list["tokens"][1]["name"], "crm-sync");
  EXPECT_EQ(out.find(token), std::string::npos);  // never the secret again

  ASSERT_EQ(testing::RunCommand(ctl + "revoke crm-sync" + where + " 2>&1", &out), 0) << out;
  EXPECT_EQ(as_crm("/v1/profiles/nobody"), 401);

  // Errors say what to do; usage errors exit 2.
  out.clear();
  EXPECT_EQ(testing::RunCommand(ctl + "create --name x --role janitor" + where + " 2>&1", &out), 1);
  EXPECT_NE(out.find("role"), std::string::npos) << out;
  EXPECT_EQ(testing::RunCommand(ctl + "create --name x" + where + " 2>&1", &out), 2);
  daemon.Stop();
  out.clear();
  EXPECT_EQ(testing::RunCommand(ctl + "list" + where + " 2>&1", &out), 1);
  EXPECT_NE(out.find("is it running"), std::string::npos) << out;
}

}  // namespace
}  // namespace portrait

namespace portrait {
namespace {

TEST(SampleLoader, FillsARealDaemonWhoseRulesSeeEveryEvent) {
  testing::Daemon daemon;
  ASSERT_TRUE(daemon.Start());
  std::string out;
  ASSERT_EQ(testing::RunCommand(testing::BinDir() + "/portrait-sample --config " +
                                    daemon.config_path() + " --url http://127.0.0.1:" +
                                    std::to_string(daemon.port()) + " -n 40 --seed 3 2>&1",
                                &out),
            0)
      << out;
  EXPECT_NE(out.find("loaded 40 customers"), std::string::npos) << out;
  // Each customer's metrics count exactly the orders generated for it.
  examples::SampleData sample(3);
  int with_orders = 0;
  for (int i = 0; i < 40; ++i) {
    examples::SampleCustomer c = sample.Customer(i);
    int orders = 0;
    for (const auto& e : c.events) {
      orders += e["type"] == "order.placed";
    }
    testing::HttpResult r = daemon.Admin("GET", "/v1/profiles/" + c.external_id, "", "service");
    ASSERT_EQ(r.status, 200) << r.body;
    const nlohmann::json view = r.json();
    if (orders > 0) {
      ++with_orders;
      EXPECT_EQ(view["metrics"]["orders"], orders) << c.external_id;
      EXPECT_NE(view["lifecycle"], "new") << c.external_id;
    } else {
      EXPECT_EQ(view["lifecycle"], "new") << c.external_id;
    }
  }
  EXPECT_GE(with_orders, 20);
}

}  // namespace
}  // namespace portrait
