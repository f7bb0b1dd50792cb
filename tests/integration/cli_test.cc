// portraitctl's verbs against a real daemon: every verb's --help runs and shows an example; every
// read verb's --json parses; usage errors exit 2; profile put/get/find/erase/export, consent
// grant/show, rules test and stats do what they say; a role of several purposes works without
// --purpose; errors never print a personal value; views show times as RFC 3339 and no "$" key.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::RunCommand;
using testing::WriteFile;

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

struct CtlRun {
  int code = -1;
  std::string out;  // stdout, and stderr when asked for
};

// portraitctl with `args` (each quoted); stderr joins stdout unless `stdout_only`.
CtlRun Ctl(const std::vector<std::string>& args, bool stdout_only = false) {
  std::string command = BinDir() + "/portraitctl";
  for (const std::string& a : args) {
    command += " " + Quote(a);
  }
  command += stdout_only ? " 2>/dev/null" : " 2>&1";
  CtlRun r;
  r.code = RunCommand(command, &r.out);
  return r;
}

// The subcommands a CLI11 help text lists (lines indented by exactly two spaces under its
// "SUBCOMMANDS:" heading).
std::vector<std::string> Subcommands(const std::string& help) {
  std::vector<std::string> out;
  std::istringstream lines(help);
  std::string line;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (line.find("SUBCOMMANDS:") != std::string::npos ||
        line.find("Subcommands:") != std::string::npos) {
      inside = true;
      continue;
    }
    if (inside && line.size() > 2 && line.rfind("  ", 0) == 0 && line[2] != ' ' &&
        line.rfind("  portraitctl ", 0) != 0) {  // not an example line of a description
      std::string name = line.substr(2, line.find(' ', 2) - 2);
      if (!name.empty() && name.back() == ',') {
        name.pop_back();  // "profile, profiles": a name and its alias
      }
      out.push_back(name);
    } else if (inside && line.empty()) {
      inside = false;
    }
  }
  return out;
}

TEST(Cli, EveryVerbsHelpRunsAndShowsAnExample) {
  std::vector<std::vector<std::string>> pending = {{}};
  int leaves = 0;
  while (!pending.empty()) {
    std::vector<std::string> path = pending.back();
    pending.pop_back();
    ASSERT_LE(path.size(), 3u) << ::testing::PrintToString(path);  // verbs nest two deep
    std::vector<std::string> args = path;
    args.push_back("--help");
    const CtlRun help = Ctl(args);
    ASSERT_EQ(help.code, 0) << "portraitctl " << ::testing::PrintToString(path) << help.out;
    const std::vector<std::string> children = Subcommands(help.out);
    for (const std::string& child : children) {
      std::vector<std::string> next = path;
      next.push_back(child);
      pending.push_back(next);
    }
    if (children.empty()) {
      ++leaves;
      std::string verb = "portraitctl";
      for (const std::string& p : path) {
        verb += " " + p;
      }
      EXPECT_NE(help.out.find("  " + verb), std::string::npos)
          << verb << " --help shows no example line:\n"
          << help.out;
    }
  }
  EXPECT_GE(leaves, 30);  // every verb of every group was reached
}

class CliAgainstDaemon : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(daemon_.Start()); }

  // The admin token, the config, the daemon's URL: no --purpose unless a test adds one.
  std::vector<std::string> To() const {
    return {"--config", daemon_.config_path(), "--url",
            "http://127.0.0.1:" + std::to_string(daemon_.port())};
  }
  CtlRun Do(std::vector<std::string> args, bool stdout_only = false) const {
    for (const std::string& a : To()) {
      args.push_back(a);
    }
    return Ctl(args, stdout_only);
  }
  json Json(std::vector<std::string> args) const {
    args.push_back("--json");
    const CtlRun r = Do(args, true);
    EXPECT_EQ(r.code, 0) << ::testing::PrintToString(args) << r.out;
    json parsed = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << ::testing::PrintToString(args) << r.out;
    return parsed;
  }
  void PostEvents(const json& events) {
    const auto r = daemon_.Admin("POST", "/v1/events", events.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }

  Daemon daemon_;
};

// Every key anywhere in `v` starting with '$'.
std::vector<std::string> DollarKeys(const json& v) {
  std::vector<std::string> out;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      for (const auto& [k, child] : j.items()) {
        if (!k.empty() && k[0] == '$') out.push_back(k);
        walk(child);
      }
    } else if (j.is_array()) {
      for (const json& child : j) walk(child);
    }
  };
  walk(v);
  return out;
}

json Order(const std::string& id, const std::string& who, const std::string& time) {
  return {{"id", id},
          {"type", "order.placed"},
          {"subject", who},
          {"time", time},
          {"data", {{"amount", 30}, {"category", "books"}}}};
}

TEST_F(CliAgainstDaemon, ProfileVerbsPutGetFindExportAndErase) {
  ASSERT_EQ(Do({"profile", "put", "c-7", "--field", "name=Fang Wang", "--field",
                "email=Fang@Example.cn", "--field", "city=Hangzhou", "--tag", "vip"})
                .code,
            0);
  PostEvents(json::array(
      {Order("o1", "c-7", "2026-11-01T10:00:00Z"), Order("o2", "c-7", "2026-11-20T08:30:00Z")}));
  const json view = Json({"profile", "get", "c-7", "--purpose", "service"});
  EXPECT_EQ(view["fields"]["email"], "Fang@Example.cn");  // found case-insensitively below
  EXPECT_EQ(view["metrics"]["orders"], 2);
  EXPECT_EQ(view["metrics"]["last_order"], "2026-11-20T08:30:00Z");  // a time, not µs
  EXPECT_EQ(view["metrics"]["favourite_category"], "books");
  EXPECT_TRUE(DollarKeys(view).empty()) << view.dump();
  const CtlRun human = Do({"profile", "get", "c-7", "--purpose", "service"});
  ASSERT_EQ(human.code, 0) << human.out;
  EXPECT_NE(human.out.find("last_order"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("2026-11-20T08:30:00Z"), std::string::npos) << human.out;

  const json found = Json({"profile", "find", "email=FANG@example.cn"});
  EXPECT_EQ(found["ids"], json::array({"c-7"}));
  EXPECT_EQ(Json({"profile", "find", "email=nobody@example.cn"})["ids"], json::array());

  const std::string out = daemon_.dir() / "c7.json";
  const json summary = Json({"profile", "export", "c-7", "--out", out});
  EXPECT_EQ(summary["events"], 2);
  struct stat st;
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const json exported = json::parse(testing::ReadFile(out));
  EXPECT_EQ(exported["id"], "c-7");
  EXPECT_EQ(exported["metrics"]["last_order"], "2026-11-20T08:30:00Z");
  EXPECT_TRUE(DollarKeys(exported).empty()) << exported.dump();
  const CtlRun again = Do({"profile", "export", "c-7", "--out", out});
  EXPECT_EQ(again.code, 1) << again.out;  // never overwrites
  EXPECT_NE(again.out.find("exists"), std::string::npos) << again.out;

  EXPECT_EQ(Do({"profile", "erase", "c-7"}).code, 2);  // without --yes
  const CtlRun erased = Do({"profile", "erase", "c-7", "--yes"});
  ASSERT_EQ(erased.code, 0) << erased.out;
  EXPECT_NE(erased.out.find("erased"), std::string::npos) << erased.out;
  const CtlRun gone = Do({"profile", "get", "c-7"});
  EXPECT_EQ(gone.code, 1) << gone.out;
  EXPECT_NE(gone.out.find("404"), std::string::npos) << gone.out;
  EXPECT_EQ(gone.out.find("c-7"), std::string::npos) << gone.out;
}

TEST_F(CliAgainstDaemon, ConsentGrantShowRulesTestAndStatsCountWhatWasStored) {
  for (const std::string id : {"a-1", "a-2", "a-3"}) {
    ASSERT_EQ(Do({"profile", "put", id, "--field", "name=N " + id}).code, 0);
  }
  PostEvents(json::array({Order("e1", "a-1", "2026-11-01T10:00:00Z"),
                          Order("e2", "a-1", "2026-11-02T10:00:00Z"),
                          Order("e3", "a-2", "2026-11-03T10:00:00Z")}));
  const CtlRun granted =
      Do({"consent", "grant", "a-1", "marketing", "--channel", "sms", "--source", "web-form"});
  ASSERT_EQ(granted.code, 0) << granted.out;
  EXPECT_NE(granted.out.find("consent record"), std::string::npos) << granted.out;
  ASSERT_EQ(Do({"consent", "grant", "a-2", "marketing"}).code, 0);
  ASSERT_EQ(Do({"consent", "withdraw", "a-2", "marketing"}).code, 0);
  ASSERT_EQ(Do({"consent", "object", "a-3", "personalisation"}).code, 0);
  const json ledger = Json({"consent", "show", "a-1"});
  ASSERT_EQ(ledger["current"].size(), 1u) << ledger.dump();
  EXPECT_EQ(ledger["current"][0]["purpose"], "marketing");
  EXPECT_EQ(ledger["current"][0]["status"], "granted");
  EXPECT_EQ(ledger["current"][0]["channel"], "sms");
  const CtlRun table = Do({"consent", "show", "a-1"});
  EXPECT_NE(table.out.find("marketing"), std::string::npos) << table.out;

  const std::string event = daemon_.dir() / "event.json";
  WriteFile(event, Order("t1", "a-1", "2026-11-05T10:00:00Z").dump());
  const json tested =
      Json({"rules", "test", "--profile", "a-1", "--event", event, "--purpose", "care"});
  ASSERT_TRUE(tested["triggers"].is_array()) << tested.dump();
  EXPECT_FALSE(tested["triggers"].empty()) << tested.dump();
  const CtlRun explained = Do(
      {"rules", "test", "--profile", "a-1", "--at", "2026-11-06T00:00:00Z", "--purpose", "care"});
  ASSERT_EQ(explained.code, 0) << explained.out;
  EXPECT_NE(explained.out.find("TRIGGER"), std::string::npos) << explained.out;

  const json stats = Json({"stats"});
  EXPECT_EQ(stats["profiles"], 3);
  EXPECT_EQ(stats["events"], 3);
  EXPECT_EQ(stats["consents"]["marketing"]["processing"]["granted"], 1) << stats.dump();
  EXPECT_EQ(stats["consents"]["marketing"]["processing"]["withdrawn"], 1) << stats.dump();
  EXPECT_EQ(stats["consents"]["personalisation"]["processing"]["objected"], 1) << stats.dump();
  int64_t staged = 0;
  for (const auto& [stage, n] : stats["lifecycle"].items()) {
    staged += n.get<int64_t>();
  }
  EXPECT_EQ(staged, 3) << stats.dump();
  EXPECT_EQ(stats["lifecycle"]["new"], 1) << stats.dump();  // a-3 never ordered
  EXPECT_EQ(stats["tasks"].size(), 7u) << stats.dump();     // every state, 0 included
  EXPECT_TRUE(stats["timers_due_24h"].is_number_integer()) << stats.dump();
  const CtlRun human = Do({"stats"});
  ASSERT_EQ(human.code, 0) << human.out;
  EXPECT_NE(human.out.find("lifecycle stages"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("marketing  processing  granted"), std::string::npos) << human.out;

  // Counts over the whole base are the admin's: a marketer is refused.
  const std::string marketer = daemon_.CreateToken("mk", "marketer");
  const CtlRun refused =
      Ctl({"stats", "--url", "http://127.0.0.1:" + std::to_string(daemon_.port()), "--token",
           marketer});
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("403"), std::string::npos) << refused.out;
}

TEST_F(CliAgainstDaemon, ReadVerbsPrintJsonAndARoleOfSeveralPurposesNeedsNoPurpose) {
  ASSERT_EQ(Do({"profile", "put", "r-1", "--field", "email=r1@example.cn"}).code, 0);
  const std::string export_file = daemon_.dir() / "r1.json";
  const std::vector<std::vector<std::string>> reads = {
      {"profile", "get", "r-1"},
      {"profile", "find", "email=r1@example.cn"},
      {"consent", "show", "r-1"},
      {"rules", "test", "--profile", "r-1"},
      {"stats"},
      {"tasks", "list"},
      {"segments", "list"},
      {"token", "list"},
      {"profile", "export", "r-1", "--out", export_file}};
  for (const auto& verb : reads) {
    SCOPED_TRACE(::testing::PrintToString(verb));
    Json(verb);  // exit 0 and JSON, with the admin role's first purpose chosen
  }
  // As the README shows it: the admin role acts for three purposes; the verb picks the first.
  const CtlRun listed = Do({"tasks", "list"});
  ASSERT_EQ(listed.code, 0) << listed.out;
  EXPECT_NE(listed.out.find("for purpose 'service'"), std::string::npos) << listed.out;
  const CtlRun chosen = Do({"tasks", "list", "--purpose", "care"});
  ASSERT_EQ(chosen.code, 0) << chosen.out;
  EXPECT_EQ(chosen.out.find("for purpose"), std::string::npos) << chosen.out;
  // PORTRAIT_URL and PORTRAIT_TOKEN instead of --url and --token, no config at all.
  std::string out;
  EXPECT_EQ(RunCommand("PORTRAIT_URL=http://127.0.0.1:" + std::to_string(daemon_.port()) +
                           " PORTRAIT_TOKEN=" + daemon_.admin_token() + " " + BinDir() +
                           "/portraitctl stats --json 2>&1",
                       &out),
            0)
      << out;
  EXPECT_EQ(json::parse(out, nullptr, false)["profiles"], 1) << out;
}

TEST_F(CliAgainstDaemon, UsageErrorsExitTwoAndNoErrorPrintsAPersonalValue) {
  const std::vector<std::vector<std::string>> usage = {
      {"profile", "get"},
      {"profile", "put", "u-1"},
      {"profile", "put", "u-1", "--field", "novalue"},
      {"profile", "put", "u-1", "--field-json", "age=notjson"},
      {"profile", "find", "noequals"},
      {"profile", "export", "u-1"},
      {"profile", "erase", "u-1"},
      {"consent", "grant", "u-1"},
      {"consent", "show"},
      {"rules", "test"},
      {"stats", "--bogus"},
      {"tasks", "list", "--state", "lost"},
      {"backup", "create"},
      {"backup", "restore"},
      {"nosuchverb"},
  };
  for (const auto& verb : usage) {
    SCOPED_TRACE(::testing::PrintToString(verb));
    const CtlRun r = Do(verb);
    EXPECT_EQ(r.code, 2) << r.out;
  }
  ASSERT_EQ(Do({"profile", "put", "secret-id-4711", "--field", "name=Secret Name"}).code, 0);
  const std::string marketer = daemon_.CreateToken("mk", "marketer");
  const std::vector<std::pair<std::vector<std::string>, std::string>> failures = {
      {{"profile", "get", "unknown-id-0815"}, "unknown-id-0815"},
      {{"profile", "put", "secret-id-4711", "--field", "email=not-an-email-4711"},
       "not-an-email-4711"},
      {{"profile", "put", "secret-id-4711", "--field-json", "email=12345678901"}, "12345678901"},
      {{"profile", "put", "secret-id-4711", "--field", "shoe=Secret Shoe"}, "Secret Shoe"},
      {{"profile", "find", "name=Secret Name"}, "Secret Name"},
      {{"consent", "grant", "secret-id-4711", "nosuchpurpose"}, "secret-id-4711"},
      {{"consent", "grant", "secret-id-4711", "marketing", "--expires", "yesterday-4711"},
       "yesterday-4711"},
      {{"profile", "erase", "unknown-id-0815", "--yes"}, "unknown-id-0815"},
      {{"rules", "test", "--profile", "unknown-id-0815"}, "unknown-id-0815"},
      {{"profile", "export", "secret-id-4711", "--out", "/nonexistent-dir/x.json"}, "Secret"},
  };
  for (const auto& [verb, secret] : failures) {
    SCOPED_TRACE(::testing::PrintToString(verb));
    const CtlRun r = Do(verb);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("secret-id-4711"), std::string::npos) << r.out;
  }
  // A marketer sees email masked: looking up by it is refused, and says nothing of the value.
  const CtlRun masked =
      Ctl({"profile", "find", "email=someone@example.cn", "--url",
           "http://127.0.0.1:" + std::to_string(daemon_.port()), "--token", marketer});
  EXPECT_EQ(masked.code, 1) << masked.out;
  EXPECT_EQ(masked.out.find("someone@example.cn"), std::string::npos) << masked.out;
  // Creating profiles logs no line per profile at info level.
  EXPECT_EQ(daemon_.Log().find("[info] profile"), std::string::npos) << daemon_.Log();
}

}  // namespace
}  // namespace portrait
