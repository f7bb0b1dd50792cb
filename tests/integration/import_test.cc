// portraitctl import against a real daemon: bad lines of every kind reported with their line
// numbers while the good ones are imported; a re-run writes nothing; SIGKILLs at random moments
// of an import, each followed by a restart and a re-run, end in the state of one clean run.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "base/clock.h"
#include "config/loader.h"
#include "store/data_dir.h"
#include "store/profile_vault.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::RunCommand;

json GoodRow(int i) {
  char phone[32];
  std::snprintf(phone, sizeof phone, "+86138%08d", i);
  return {{"id", "C" + std::to_string(100000 + i)},
          {"fields",
           {{"name", "Customer " + std::to_string(i)},
            {"phone", phone},
            {"email", "c" + std::to_string(i) + "@example.com"},
            {"city", i % 2 ? "Shanghai" : "Beijing"},
            {"birthday", i % 7 ? "1990-05-17" : "1992-02-29"},
            {"gender", i % 3 ? "female" : "male"}}},
          {"tags", {"imported", i % 5 ? "retail" : "vip"}},
          {"timezone", "Asia/Shanghai"}};
}

struct BadLine {
  std::string text;
  std::string field;  // the field the report must name
};

// The bad line of kind `kind` (0-6) made from row `i`; `first_id` is an earlier row's id.
BadLine MakeBad(int kind, int i, const std::string& first_id) {
  json row = GoodRow(i);
  switch (kind) {
    case 0:
      row["fields"]["email"] = "not-an-email";
      return {row.dump(), "email"};
    case 1:
      row["fields"]["birthday"] = "2023-02-30";
      return {row.dump(), "birthday"};
    case 2:
      row["fields"]["shoe_size"] = "42";
      return {row.dump(), "shoe_size"};
    case 3:
      row["fields"]["city"] = 42;
      return {row.dump(), "city"};
    case 4:
      row["id"] = first_id;
      return {row.dump(), "id"};
    case 5: {
      std::string text = row.dump();
      text.replace(text.find("Customer"), 8, "Cust\xff\xfemer");
      return {text, "line"};
    }
    default:
      row["fields"]["name"] = std::string(70'000, 'x');
      return {row.dump(), "line"};
  }
}

// Writes `rows` lines of JSON; 50 of them bad (7 or 8 of each kind). Returns the bad lines'
// numbers with the field each report must name.
std::map<int64_t, std::string> WriteFile(const std::string& path, int rows, bool with_bad) {
  std::ofstream out(path, std::ios::binary);
  std::map<int64_t, std::string> bad;
  for (int i = 0; i < rows; ++i) {
    const int64_t line = i + 1;
    if (with_bad && i % (rows / 50) == rows / 50 - 50) {
      BadLine b = MakeBad(static_cast<int>(bad.size() % 7), i, GoodRow(0)["id"]);
      out << b.text << "\n";
      bad[line] = b.field;
    } else {
      out << GoodRow(i).dump() << "\n";
    }
  }
  return bad;
}

std::string Import(const Daemon& d, const std::string& file, const std::string& extra, int* rc) {
  std::string out;
  *rc = RunCommand(BinDir() + "/portraitctl import profiles " + file + " --json --config " +
                       d.config_path() + " --url http://127.0.0.1:" + std::to_string(d.port()) +
                       " --purpose service " + extra + " 2>/dev/null",
                   &out);
  return out;
}

// Every stored profile, decrypted (external id -> fields, tags, time zone), and every row as
// stored (ext_key -> updated_us and field envelopes): the daemon must be stopped.
struct StoredState {
  std::map<std::string, json> views;
  std::map<std::string, std::string> raw;
};

StoredState ReadState(const Daemon& d) {
  auto config = std::make_shared<const config::Config>(config::LoadConfig(d.config_path()).value());
  store::DataDir data = store::OpenDataDir(*config).value();
  config::ConfigHolder holder(config);
  SystemClock clock;
  store::ProfileVault vault(holder, *data.store, data.keys, data.blind, clock);
  StoredState state;
  for (store::ProfileId after = 0;;) {
    std::vector<store::ProfileId> ids = data.store->ProfileIds(after, 1000).value();
    if (ids.empty()) {
      return state;
    }
    for (store::ProfileId id : ids) {
      store::Profile p = vault.GetById(id).value();
      state.views[p.external_id] = {{"fields", p.fields}, {"tags", p.tags}, {"tz", p.timezone}};
      store::ProfileRow row = data.store->GetProfile(id).value().value();
      std::string raw = std::to_string(row.updated_us) + row.tags;
      const std::map<std::string, std::string> fields = data.store->GetFields(id).value();
      for (const auto& [name, envelope] : fields) {
        raw += name + envelope;
      }
      state.raw[row.ext_key] = raw;
    }
    after = ids.back();
  }
}

TEST(Import, BadLinesAreReportedByLineAndTheGoodOnesImportedOnceOnly) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::string file = d.dir() / "customers.jsonl";
  const std::string errors = d.dir() / "errors.jsonl";
  const std::map<int64_t, std::string> bad = WriteFile(file, 10'000, true);
  ASSERT_EQ(bad.size(), 50u);
  int rc = 0;
  std::string out = Import(d, file, "--errors " + errors, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(json::parse(out), (json{{"read", 10'000},
                                    {"imported", 9'950},
                                    {"merged", 0},
                                    {"failed", 50},
                                    {"duplicates", 0}}));
  std::ifstream in(errors);
  std::map<int64_t, std::string> reported;
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.find("not-an-email"), std::string::npos) << "a value in the report";
    EXPECT_EQ(line.find("2023-02-30"), std::string::npos) << "a value in the report";
    json e = json::parse(line);
    reported[e["line"].get<int64_t>()] = e["field"];
    EXPECT_FALSE(e["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(reported, bad);
  d.Stop();
  const StoredState first = ReadState(d);
  EXPECT_EQ(first.views.size(), 9'950u);
  EXPECT_EQ(first.views.at("C100001")["fields"]["email"], "c1@example.com");

  ASSERT_TRUE(d.Start());
  out = Import(d, file, "", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(json::parse(out), (json{{"read", 10'000},
                                    {"imported", 0},
                                    {"merged", 0},
                                    {"failed", 50},
                                    {"duplicates", 9'950}}));
  d.Stop();
  const StoredState second = ReadState(d);
  EXPECT_EQ(second.raw, first.raw) << "the re-run rewrote a stored row";
}

TEST(Import, KillsAtRandomMomentsEndInTheStateOfOneCleanRun) {
  constexpr int kRows = 2'000;
  Daemon clean;
  ASSERT_TRUE(clean.Start());
  const std::string file = clean.dir() / "customers.jsonl";
  WriteFile(file, kRows, false);
  int rc = 0;
  std::string out = Import(clean, file, "", &rc);
  ASSERT_EQ(rc, 0) << out;
  clean.Stop();
  const StoredState expected = ReadState(clean);
  ASSERT_EQ(expected.views.size(), static_cast<size_t>(kRows));

  Daemon d;
  std::mt19937 random(13);
  int interrupted = 0;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(d.Start()) << "round " << round;
    int import_rc = -1;
    std::thread importer([&] { Import(d, file, "", &import_rc); });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 400)(random)));
    d.Kill();
    importer.join();
    interrupted += import_rc != 0;
  }
  EXPECT_GT(interrupted, 0) << "no kill landed during an import";
  ASSERT_TRUE(d.Start());
  out = Import(d, file, "", &rc);
  EXPECT_EQ(rc, 0) << out;
  d.Stop();
  EXPECT_EQ(ReadState(d).views, expected.views);
}

TEST(Import, CsvWithQuotingTagsAndTextNumbersImports) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::string file = d.dir() / "customers.csv";
  std::ofstream(file) << "id,name,email,tags,timezone\r\n"
                         "A1,\"Doe, \"\"Jo\"\"\",jo@example.com,vip;news,Europe/Paris\r\n"
                         "A2,Ann,,,\r\n"
                         "A3,\"unclosed,x@example.com,,\r\n";
  int rc = 0;
  std::string out = Import(d, file, "", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(json::parse(out)["imported"], 2);
  EXPECT_EQ(json::parse(out)["failed"], 1);
  auto view = d.Admin("GET", "/v1/profiles/A1");
  ASSERT_EQ(view.status, 200) << view.body;
  json p = json::parse(view.body);
  EXPECT_EQ(p["fields"]["name"], "Doe, \"Jo\"");
  EXPECT_EQ(p["tags"], (json{"news", "vip"}));
  EXPECT_EQ(p["timezone"], "Europe/Paris");
}

TEST(Import, EventsImportSkipsDuplicatesAndReportsBadLines) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::string file = d.dir() / "events.jsonl";
  {
    std::ofstream out(file);
    for (int i = 0; i < 300; ++i) {
      json e = {{"id", "e" + std::to_string(i)},
                {"type", "order.placed"},
                {"source", "shop"},
                {"subject", "K" + std::to_string(i % 40)},
                {"data", {{"amount", 10 + i}}}};
      if (i == 17) {
        e["time"] = "yesterday";  // refused by the daemon
      } else if (i == 18) {
        e.erase("id");  // refused here
      } else if (i == 250) {
        e["id"] = "e3";  // a duplicate
      }
      out << e.dump() << "\n";
    }
    out << "{broken\n";
  }
  std::string out;
  ASSERT_EQ(RunCommand(BinDir() + "/portraitctl import events " + file + " --json --batch 64 " +
                           "--errors " + (d.dir() / "bad.jsonl") + " --config " + d.config_path() +
                           " --url http://127.0.0.1:" + std::to_string(d.port()) +
                           " --purpose service 2>/dev/null",
                       &out),
            1);
  EXPECT_EQ(
      json::parse(out),
      (json{{"read", 301}, {"imported", 297}, {"merged", 0}, {"failed", 3}, {"duplicates", 1}}));
  std::ifstream errors(d.dir() / "bad.jsonl");
  std::map<int64_t, std::string> reported;
  for (std::string line; std::getline(errors, line);) {
    json e = json::parse(line);
    reported[e["line"].get<int64_t>()] = e["field"];
  }
  EXPECT_EQ(reported, (std::map<int64_t, std::string>{{18, "time"}, {19, "id"}, {301, "line"}}));
  out.clear();
  ASSERT_EQ(RunCommand(BinDir() + "/portraitctl import events " + file + " --json --config " +
                           d.config_path() + " --url http://127.0.0.1:" + std::to_string(d.port()) +
                           " --purpose service 2>/dev/null",
                       &out),
            1);
  EXPECT_EQ(json::parse(out)["imported"], 0);
  EXPECT_EQ(json::parse(out)["duplicates"], 298);
}

// A file dense with events the daemon refuses one by one (a time it can't parse) costs at most
// two small requests per bad line (each refusal halves the next request), every good event is
// stored, every bad one reported.
TEST(Import, EventsTheDaemonRefusesCostAtMostTwoRequestsEach) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::string file = d.dir() / "events.jsonl";
  {
    std::ofstream out(file);
    for (int i = 0; i < 1000; ++i) {
      json e = {{"id", "e" + std::to_string(i)}, {"type", "order.placed"}, {"subject", "K1"}};
      if (i % 2 == 0) {
        e["time"] = "yesterday";
      }
      out << e.dump() << "\n";
    }
  }
  auto requests = [&] {
    const std::string metrics = d.Admin("GET", "/metrics").body;
    const std::string name = "\nportrait_http_requests_total ";
    const size_t at = metrics.find(name);
    return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + name.size()));
  };
  const int64_t before = requests();
  std::string out;
  ASSERT_EQ(RunCommand(BinDir() + "/portraitctl import events " + file + " --json --batch 1000" +
                           " --config " + d.config_path() + " --url http://127.0.0.1:" +
                           std::to_string(d.port()) + " --purpose service 2>/dev/null",
                       &out),
            1);
  EXPECT_EQ(json::parse(out)["imported"], 500);
  EXPECT_EQ(json::parse(out)["failed"], 500);
  const int64_t sent = requests() - before - 1;  // less the second /metrics
  EXPECT_GE(sent, 500);
  EXPECT_LE(sent, 2 * 500 + 1);
}

TEST(Import, ARowNamingWhatTheCallerCantReadIsNeverReportedUnchanged) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(d.Admin("PUT", "/v1/profiles/c1",
                    R"({"fields": {"name": "Ann", "email": "ann@example.com"},
                        "tags": {"add": ["retail"]}})")
                .status,
            201);
  // care_agent may write email but reads it masked: "unchanged" would confirm a guess.
  const std::string care = d.CreateToken("care", "care_agent");
  auto import = [&](const std::string& row, const std::string& purpose = "care") {
    auto r = d.client().Send("POST", "/v1/import/profiles",
                             R"({"rows": [{"line": 1, "id": "c1", )" + row + "}]}",
                             {{"Authorization", "Bearer " + care}, {"X-Purpose", purpose}});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  };
  json guess = import(R"("fields": {"email": "ann@example.com"})");
  EXPECT_EQ(guess["unchanged"], 0);
  EXPECT_EQ(guess["updated"], 1);
  // Its purpose may use only the vip tags: whether c1 has "retail" is not its to learn.
  json tag = import(R"("tags": ["retail"])");
  EXPECT_EQ(tag["unchanged"], 0);
  EXPECT_EQ(tag["updated"], 1);
  // Read in clear, but under legitimate interest: had the customer objected, a read would hide
  // the name, so the answer may not depend on it.
  json objectable = import(R"("fields": {"name": "Ann"})");
  EXPECT_EQ(objectable["unchanged"], 0);
  // A sensitive field needs a separate consent before a read shows it.
  ASSERT_EQ(d.Admin("PUT", "/v1/profiles/c1", R"({"fields": {"health_note": "asthma"}})").status,
            200);
  json sensitive = import(R"("fields": {"health_note": "asthma"})", "service");
  EXPECT_EQ(sensitive["unchanged"], 0);
  // In clear under a contract, not sensitive: nothing a read could hide.
  json clear = import(R"("fields": {"name": "Ann"})", "service");
  EXPECT_EQ(clear["unchanged"], 1);
  EXPECT_EQ(clear["updated"], 0);
}

}  // namespace
}  // namespace portrait
