// Segments through a real portraitd: the personalisation objection takes a customer out of a
// marketing segment and keeps profiling triggers from firing for them; enter/exit triggers fire
// once per transition, also across a SIGKILL and a restart; the members index answers
// GET /v1/segments and the member pages.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

// A marketing segment of buyers, its enter and exit triggers, and a profiling event trigger (a
// marketing trigger reading the segment).
const std::string kSegmentRules =
    BuyersSegmentRules("metrics.orders >= 1 and metrics.spent < 1000") + R"toml(
[[trigger]]
id = "buyer-left"
purpose = "marketing"
on.segment = { exit = "buyers" }
task = "goodbye"
channel = "sms"
sink = "crm"
message = "Goodbye"

[[trigger]]
id = "buyer-order"
purpose = "marketing"
on.event = "order.placed"
when = "in_segment('buyers')"
task = "thanks"
channel = "sms"
sink = "crm"
message = "Thanks"
)toml";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The example config with marketing allowed the metrics and segments it uses.
void AllowSegments(const Daemon& daemon) {
  std::string config = ReadAll(daemon.config_path());
  const std::string from = "derived = [\"lifecycle\"]";
  const size_t at = config.find(from);
  ASSERT_NE(at, std::string::npos);
  config.replace(at, from.size(), R"(derived = ["lifecycle", "metrics", "segments"])");
  WriteFile(daemon.config_path(), config);
  WriteFile(daemon.dir() / "rules/segments.toml", kSegmentRules);
}

json Order(const std::string& id, const std::string& customer, double amount) {
  return {{"id", id},
          {"type", "order.placed"},
          {"subject", customer},
          {"time", "2026-06-01T10:00:00Z"},
          {"data", {{"amount", amount}}}};
}

void Post(Daemon& daemon, const json& events) {
  HttpResult r = daemon.Admin("POST", "/v1/events", events.dump());
  ASSERT_EQ(r.status, 202) << r.body;
}

void Consent(Daemon& daemon, const std::string& customer, const std::string& status) {
  HttpResult r = daemon.Admin("POST", "/v1/profiles/" + customer + "/consents",
                              json{{"purpose", "personalisation"}, {"status", status}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
}

// Marketing's basis is consent: only a customer who gave it is listed under it (DECISIONS 110).
void GrantMarketing(Daemon& daemon, const std::string& customer) {
  HttpResult r = daemon.Admin("POST", "/v1/profiles/" + customer + "/consents",
                              json{{"purpose", "marketing"}, {"status", "granted"}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
}

TEST(Segments, AnObjectorLeavesAMarketingSegmentAndGetsNoProfilingTask) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  for (const char* id : {"ann", "bob", "cat"}) {
    ASSERT_EQ(daemon
                  .Admin("PUT", std::string("/v1/profiles/") + id,
                         json{{"fields", {{"name", id}}}}.dump())
                  .status,
              201);
    GrantMarketing(daemon, id);
  }
  Consent(daemon, "bob", "objected");  // before any order
  Post(daemon,
       json::array({Order("a1", "ann", 10), Order("b1", "bob", 10), Order("c1", "cat", 10)}));
  EXPECT_EQ(daemon.TasksOf("ann", "buyer-welcome").size(), 1u);
  EXPECT_EQ(daemon.TasksOf("ann", "buyer-order").size(), 1u);
  EXPECT_EQ(daemon.TasksOf("cat", "buyer-welcome").size(), 1u);
  EXPECT_TRUE(daemon.TasksOf("bob", "buyer-welcome").empty());
  EXPECT_TRUE(daemon.TasksOf("bob", "buyer-order").empty());

  // Cat objects (by withdrawing on one channel): out of the segment at once. The exit trigger
  // is a marketing trigger reading the segment — profiling — so it does not fire for her either.
  HttpResult withdrawn = daemon.Admin(
      "POST", "/v1/profiles/cat/consents",
      json{{"purpose", "personalisation"}, {"status", "withdrawn"}, {"channel", "sms"}}.dump());
  ASSERT_EQ(withdrawn.status, 201) << withdrawn.body;
  EXPECT_TRUE(daemon.TasksOf("cat", "buyer-left").empty());
  Post(daemon, json::array({Order("c2", "cat", 10), Order("b2", "bob", 10)}));
  EXPECT_EQ(daemon.TasksOf("cat", "buyer-welcome").size(), 1u);
  EXPECT_EQ(daemon.TasksOf("cat", "buyer-order").size(), 1u);  // c1's, before she objected
  EXPECT_TRUE(daemon.TasksOf("bob", "buyer-order").empty());

  // The members index agrees: ann only.
  HttpResult members = daemon.Admin("GET", "/v1/segments/buyers/members", "", "marketing");
  ASSERT_EQ(members.status, 200) << members.body;
  EXPECT_EQ(members.json()["members"], json::array({"ann"}));
  // So do the profile views, as each purpose may see them: marketing sees ann's segment and none
  // of cat's; service, whose derived data leaves segments out, sees none.
  const auto segments_of = [&](const std::string& id, const std::string& purpose) {
    HttpResult r = daemon.Admin("GET", "/v1/profiles/" + id, "", purpose);
    return r.status == 200 ? r.json()["segments"] : json(r.status);
  };
  EXPECT_EQ(segments_of("ann", "marketing"), json::array({"buyers"}));
  EXPECT_EQ(segments_of("cat", "marketing"), json::array());
  EXPECT_EQ(segments_of("ann", "service"), json::array());

  // Cat grants personalisation again: she is back in, a new transition, a new welcome.
  HttpResult granted = daemon.Admin(
      "POST", "/v1/profiles/cat/consents",
      json{{"purpose", "personalisation"}, {"status", "granted"}, {"channel", "sms"}}.dump());
  ASSERT_EQ(granted.status, 201) << granted.body;
  EXPECT_EQ(daemon.TasksOf("cat", "buyer-welcome").size(), 2u);
  Post(daemon, json::array({Order("c3", "cat", 10)}));
  EXPECT_EQ(daemon.TasksOf("cat", "buyer-order").size(), 2u);
  EXPECT_EQ(daemon.Stop(), 0);
}

// Each customer's enter and exit: posted from several connections while the daemon is killed,
// then all posted again after the restart (the events answered 202 are duplicates then).
json EnterThenExit(int customer) {
  const std::string id = "c" + std::to_string(customer);
  return json::array({Order(id + "-in", id, 10), Order(id + "-out", id, 5000)});
}

TEST(Segments, EnterAndExitFireExactlyOncePerTransitionAcrossAKillAndARestart) {
  constexpr int kCustomers = 60;
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  std::thread poster([&] {
    HttpClient client(daemon.port());
    for (int c = 0; c < kCustomers; ++c) {
      HttpResult r = client.Send(
          "POST", "/v1/events", EnterThenExit(c).dump(),
          {{"Authorization", "Bearer " + daemon.admin_token()}, {"X-Purpose", "service"}});
      if (r.status == 0) {
        return;  // killed
      }
    }
  });
  // Killed once some exits are committed, while the others are still being posted.
  ASSERT_TRUE(Eventually([&] {
    HttpResult r = daemon.Admin("GET", "/v1/profiles/c5/export");
    return r.status == 200 && r.body.find("buyer-left") != std::string::npos;
  }));
  daemon.Kill();
  poster.join();
  ASSERT_TRUE(daemon.Start("2026-06-01T12:05:00Z"));
  for (int c = 0; c < kCustomers; ++c) {
    Post(daemon, EnterThenExit(c));
  }
  // A restart re-evaluates nothing twice (no rule changed), and the daily sweep's re-evaluation
  // of an unchanged profile fires nothing.
  EXPECT_EQ(daemon.Stop(), 0);
  ASSERT_TRUE(daemon.Start("2026-06-02T12:10:00Z"));
  ASSERT_TRUE(Eventually([&] { return daemon.Log().find("timers: ") != std::string::npos; }));
  for (int c = 0; c < kCustomers; ++c) {
    const std::string id = "c" + std::to_string(c);
    EXPECT_EQ(daemon.TasksOf(id, "buyer-welcome").size(), 1u) << id;
    EXPECT_EQ(daemon.TasksOf(id, "buyer-left").size(), 1u) << id;
  }
  HttpResult members = daemon.Admin("GET", "/v1/segments/buyers/members", "", "marketing");
  ASSERT_EQ(members.status, 200) << members.body;
  EXPECT_EQ(members.json()["members"], json::array());
  EXPECT_EQ(daemon.Stop(), 0);
  EXPECT_NE(daemon.IntegrityCheck().find("ok"), std::string::npos);
}

TEST(Segments, CountsAndMemberPagesAnswerOnlyWhatThePurposeMayUse) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  json orders = json::array();
  for (int c = 0; c < 5; ++c) {
    orders.push_back(Order("p" + std::to_string(c), "m" + std::to_string(c), 10));
  }
  Post(daemon, orders);
  for (int c = 0; c < 5; ++c) {
    GrantMarketing(daemon, "m" + std::to_string(c));
  }
  HttpResult listed = daemon.Admin("GET", "/v1/segments", "", "marketing");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json()["segments"],
            json::parse(R"([{"name":"buyers","members":5,"complete":true}])"));

  // Paged by internal id: 2 + 2 + 1, the last page says there is no next one.
  std::vector<std::string> seen;
  std::string after;  // the opaque cursor of the page before; none for the first
  for (int page = 0; page < 3; ++page) {
    HttpResult r = daemon.Admin(
        "GET", "/v1/segments/buyers/members?limit=2" + (after.empty() ? "" : "&after=" + after), "",
        "marketing");
    ASSERT_EQ(r.status, 200) << r.body;
    const json page_body = r.json();
    for (const json& m : page_body["members"]) {
      seen.push_back(m.get<std::string>());
    }
    const json next = page_body["next_after"];
    EXPECT_EQ(next.is_null(), page == 2) << r.body;
    after = next.is_null() ? after : next.get<std::string>();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));

  // Care's derived list has no segments: it sees none, and the segment is as unknown as one
  // that does not exist.
  HttpResult care = daemon.Admin("GET", "/v1/segments", "", "care");
  ASSERT_EQ(care.status, 200) << care.body;
  EXPECT_EQ(care.json()["segments"], json::array());
  HttpResult hidden = daemon.Admin("GET", "/v1/segments/buyers/members", "", "care");
  HttpResult absent = daemon.Admin("GET", "/v1/segments/nothing/members", "", "care");
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(absent.status, 404);
  EXPECT_EQ(hidden.json()["detail"], absent.json()["detail"]);

  // Hostile queries are refused naming the parameter.
  for (const char* bad :
       {"limit=0", "limit=1001", "limit=-1", "limit=99999999999999999999", "colour=red"}) {
    HttpResult r =
        daemon.Admin("GET", std::string("/v1/segments/buyers/members?") + bad, "", "marketing");
    EXPECT_EQ(r.status, 422) << bad << ": " << r.body;
  }
  // `after` is only a cursor the daemon gave for these pages: an internal id, a forged or
  // altered cursor, or one of another purpose is a 400 naming it.
  HttpResult first = daemon.Admin("GET", "/v1/segments/buyers/members?limit=1", "", "marketing");
  ASSERT_EQ(first.status, 200) << first.body;
  std::string altered = first.json()["next_after"].get<std::string>();
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string("0"), std::string("1"), std::string("x"), std::string(64, 'A'), altered}) {
    HttpResult r = daemon.Admin("GET", "/v1/segments/buyers/members?after=" + bad, "", "marketing");
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(r.json()["detail"].get<std::string>().rfind("after: ", 0), 0u) << r.body;
  }
  // A role without segments.read is refused, and the refusal audited.
  const std::string token = daemon.CreateToken("mk", "marketer");
  HttpResult refused =
      daemon.client().Send("GET", "/v1/segments", "",
                           {{"Authorization", "Bearer " + token}, {"X-Purpose", "marketing"}});
  EXPECT_EQ(refused.status, 403) << refused.body;
  const std::string audit = daemon.Admin("GET", "/v1/audit?after=0&limit=1000").body;
  EXPECT_NE(audit.find("segments.members"), std::string::npos);
  EXPECT_NE(audit.find("segments.read"), std::string::npos);
  EXPECT_EQ(audit.find("\"m0\""), std::string::npos);  // never an external id
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(Segments, ARuleChangeReevaluatesEveryProfileOnceAndTheIndexFollows) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  Post(daemon,
       json::array({Order("x1", "one", 10), Order("y1", "two", 10), Order("y2", "two", 10)}));
  EXPECT_EQ(daemon.Stop(), 0);
  // Buyers now need two orders: "one" leaves at the next start, once; "two" stays.
  std::string rules(kSegmentRules);
  const std::string from = "metrics.orders >= 1";
  rules.replace(rules.find(from), from.size(), "metrics.orders >= 2");
  WriteFile(daemon.dir() / "rules/segments.toml", rules);
  // The first run's start-up pass may itself have checked both (when it ran after the orders):
  // wait for one more such line, this run's.
  const std::string line = "profiles re-evaluated for the rules in force: 2 profiles checked";
  auto lines = [&] {
    const std::string log = daemon.Log();
    size_t n = 0;
    for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) {
      ++n;
    }
    return n;
  };
  const size_t before = lines();
  ASSERT_TRUE(daemon.Start("2026-06-01T13:00:00Z"));
  ASSERT_TRUE(Eventually([&] { return lines() > before; })) << daemon.Log();
  // Only a segment changed since the first start's pass: this one checks the segments alone
  // (DECISIONS 178), and still finds the one who left.
  EXPECT_NE(daemon.Log().find(line + " (their segments alone"), std::string::npos);
  EXPECT_EQ(daemon.TasksOf("one", "buyer-left").size(), 1u);
  EXPECT_TRUE(daemon.TasksOf("two", "buyer-left").empty());
  GrantMarketing(daemon, "one");
  GrantMarketing(daemon, "two");
  HttpResult members = daemon.Admin("GET", "/v1/segments/buyers/members", "", "marketing");
  ASSERT_EQ(members.status, 200) << members.body;
  EXPECT_EQ(members.json()["members"], json::array({"two"}));
  EXPECT_NE(daemon.Admin("GET", "/v1/audit?after=0&limit=1000").body.find("portrait.reevaluate"),
            std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);
  ASSERT_TRUE(daemon.Start("2026-06-01T14:00:00Z"));
  EXPECT_EQ(daemon.Stop(), 0);
  const std::string log = daemon.Log();
  size_t passes = 0;
  for (size_t at = log.find("profiles re-evaluated"); at != std::string::npos;
       at = log.find("profiles re-evaluated", at + 1)) {
    ++passes;
  }
  EXPECT_EQ(passes, 2u);  // the first start (the index filled) and the rule change; not the last
}

TEST(Segments, AReloadRefusesASegmentReadingAFieldThePurposeMayNotUse) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  WriteFile(daemon.dir() / "rules/segments.toml", R"toml(
[[segment]]
name = "gmail"
when = "fields.email == 'x'"

[[trigger]]
id = "gmail-offer"
purpose = "marketing"
on.segment = { enter = "gmail" }
task = "offer"
channel = "sms"
sink = "crm"
message = "Offer"
)toml");
  HttpResult reload = daemon.Admin("POST", "/v1/admin/reload");
  EXPECT_EQ(reload.status, 422) << reload.body;
  EXPECT_TRUE(std::regex_search(reload.body, std::regex(R"(segments\.toml:\d+:\d+)")))
      << reload.body;
  EXPECT_NE(reload.body.find("through segment 'gmail'"), std::string::npos) << reload.body;
  // The rules in force stay: buyers is still listed.
  HttpResult listed = daemon.Admin("GET", "/v1/segments", "", "marketing");
  EXPECT_NE(listed.body.find("buyers"), std::string::npos) << listed.body;
  EXPECT_EQ(daemon.Stop(), 0);
}

// A daily run for the segment's members only, at 10:00 in Shanghai.
constexpr std::string_view kScheduleRule = R"toml(
[[trigger]]
id = "buyer-daily"
purpose = "marketing"
on.schedule = "0 10 * * *"
segment = "buyers"
task = "digest"
channel = "sms"
sink = "crm"
message = "Digest"
)toml";

TEST(Segments, AScheduleScopedToASegmentKeepsTimersOnlyForMembersAndFiresForThem) {
  Daemon daemon;
  AllowSegments(daemon);
  WriteFile(daemon.dir() / "rules/schedule.toml", kScheduleRule);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  ASSERT_EQ(
      daemon.Admin("PUT", "/v1/profiles/never", json{{"fields", {{"name", "N"}}}}.dump()).status,
      201);
  Post(daemon, json::array({Order("i1", "inside", 10), Order("g1", "gone", 10)}));
  Post(daemon, json::array({Order("g2", "gone", 5000)}));  // leaves: its timer is cleared
  EXPECT_EQ(daemon.Stop(), 0);
  const std::string armed =
      daemon.Sql("SELECT count(*) FROM timers WHERE trigger = 'buyer-daily';");
  EXPECT_TRUE(std::regex_search(armed, std::regex("(^|\n)1\r?\n?$"))) << armed;  // one timer

  // 2 June 03:00Z is 11:00 in Shanghai: the 10:00 run, an hour late, fires for the member.
  ASSERT_TRUE(daemon.Start("2026-06-02T03:00:00Z"));
  ASSERT_TRUE(Eventually([&] { return daemon.TasksOf("inside", "buyer-daily").size() == 1; }))
      << daemon.Log();
  EXPECT_TRUE(daemon.TasksOf("gone", "buyer-daily").empty());
  EXPECT_TRUE(daemon.TasksOf("never", "buyer-daily").empty());
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(Segments, PortraitctlListsSegmentsAndPagesMembers) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  Post(daemon, json::array({Order("q1", "alpha", 10), Order("q2", "beta", 10)}));
  GrantMarketing(daemon, "alpha");
  GrantMarketing(daemon, "beta");
  const std::string ctl = BinDir() + "/portraitctl segments ";
  const std::string to = " --url http://127.0.0.1:" + std::to_string(daemon.port()) + " --token " +
                         daemon.admin_token() + " --purpose marketing";
  std::string out;
  // RunCommand appends: each call starts from an empty string.
  auto run = [&](const std::string& args) {
    out.clear();
    return RunCommand(ctl + args, &out);
  };
  ASSERT_EQ(run("list" + to + " 2>&1"), 0) << out;
  EXPECT_NE(out.find("SEGMENT"), std::string::npos) << out;
  EXPECT_NE(out.find("buyers"), std::string::npos) << out;
  ASSERT_EQ(run("list --json" + to), 0) << out;
  EXPECT_EQ(json::parse(out)["segments"][0]["members"], 2) << out;
  ASSERT_EQ(run("members buyers --limit 1" + to + " 2>&1"), 0) << out;
  EXPECT_NE(out.find("alpha"), std::string::npos) << out;
  EXPECT_EQ(out.find("beta"), std::string::npos) << out;
  // How to get the next page: the printed cursor pages on, to beta.
  const std::string hint = "run again with --after ";
  const size_t at = out.find(hint);
  ASSERT_NE(at, std::string::npos) << out;
  const std::string cursor = out.substr(at + hint.size(), out.find('\n', at) - at - hint.size());
  ASSERT_EQ(run("members buyers --limit 1 --after " + cursor + to + " 2>&1"), 0) << out;
  EXPECT_NE(out.find("beta"), std::string::npos) << out;
  EXPECT_EQ(out.find("alpha"), std::string::npos) << out;
  EXPECT_EQ(run("members buyers --after 1" + to + " 2>&1"), 1) << out;  // not a cursor
  EXPECT_NE(out.find("after: "), std::string::npos) << out;
  ASSERT_EQ(run("members buyers --json" + to), 0) << out;
  EXPECT_EQ(json::parse(out)["members"], json::array({"alpha", "beta"}));
  EXPECT_EQ(run("members nothing" + to + " 2>&1"), 1) << out;
  EXPECT_EQ(run("members buyers --limit 0" + to + " 2>&1"), 2) << out;
  EXPECT_EQ(run("members" + to + " 2>&1"), 2) << out;
  ASSERT_EQ(run("members --help 2>&1"), 0) << out;
  EXPECT_NE(out.find("portraitctl segments members vip"), std::string::npos) << out;
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(Segments, AMergeKeepsTheTargetsTransitionNumbersSoALaterReentryFiresAgain) {
  Daemon daemon;
  AllowSegments(daemon);
  WriteFile(daemon.dir() / "rules/city.toml", R"toml(
[[segment]]
name = "hangzhou"
when = "fields.city == 'Hangzhou'"

[[trigger]]
id = "hangzhou-welcome"
purpose = "marketing"
on.segment = { enter = "hangzhou" }
task = "welcome"
channel = "sms"
sink = "crm"
message = "Welcome"
)toml");
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  auto city = [&](const std::string& id, const std::string& name) {
    HttpResult r =
        daemon.Admin("PUT", "/v1/profiles/" + id, json{{"fields", {{"city", name}}}}.dump());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  };
  city("t", "Hangzhou");  // enter #1
  city("t", "Shanghai");  // exit #2
  city("t", "Hangzhou");  // enter #3
  ASSERT_EQ(daemon.TasksOf("t", "hangzhou-welcome").size(), 2u);
  city("s", "Beijing");
  HttpResult merged = daemon.Admin("POST", "/v1/profiles/t/merge",
                                   json{{"from", "s"}, {"prefer", "target"}}.dump());
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_EQ(daemon.TasksOf("t", "hangzhou-welcome").size(), 2u);  // still a member: no transition
  city("t", "Shanghai");                                          // exit #4
  city("t", "Hangzhou");  // enter #5: a new transition, a new welcome
  EXPECT_EQ(daemon.TasksOf("t", "hangzhou-welcome").size(), 3u);
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait::testing
