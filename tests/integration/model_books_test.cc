// A fit reads the customers' purchase books instead of the events exactly when the books are
// known to hold every stored purchase (daemon/kept_marks.h): rules with the model in force
// before the first purchase, or the rebuild pass that recomputes books and metrics from the
// stored events when a [[model]] or [[metric]] comes into force after its events. A real daemon,
// half of the CDNOW sample imported as events.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "tests/integration/cdnow_events.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::Eventually;
using testing::RunCommand;

// After every sample purchase (the last is on 1998-06-30), before the daemon's now.
constexpr const char* kAfterAll = R"({"until": "1998-06-30T23:59:59Z"})";

class ModelBooks : public ::testing::Test {
 protected:
  void SetUp() override {
    // The sample's customers split in two by the parity of their id.
    std::ifstream all(testing::WriteCdnowEvents(d_.dir() / "cdnow.jsonl"));
    std::ofstream even(d_.dir() / "even.jsonl"), odd(d_.dir() / "odd.jsonl");
    for (std::string line; std::getline(all, line);) {
      const std::string subject = json::parse(line)["subject"];
      (std::stoi(subject.substr(6)) % 2 == 0 ? even : odd) << line << "\n";
    }
  }
  void Rules(bool with_model, const std::string& more = "") {
    std::ofstream(d_.dir() / "rules/cdnow.toml")
        << (with_model ? testing::kCdnowModel : "") << more;
  }
  void Reload(bool with_model, const std::string& more = "") {
    Rules(with_model, more);
    auto r = d_.Admin("POST", "/v1/admin/reload");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static size_t Count(const std::string& log, const std::string& line) {
    size_t count = 0;
    for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) {
      ++count;
    }
    return count;
  }
  // Waits for the n-th rebuild pass of values kept from events to be recorded.
  bool Rebuilt(size_t n) {
    return Eventually([&] { return Count(d_.Log(), kRebuiltLine) >= n; });
  }
  static constexpr const char* kRebuiltLine = "values kept from events rebuilt";
  static constexpr const char* kStartDone = "the start's passes are done";
  void Import(const std::string& file) {
    std::string out;
    ASSERT_EQ(RunCommand(BinDir() + "/portraitctl import events " + (d_.dir() / file) +
                             " --json --config " + d_.config_path() + " --url http://127.0.0.1:" +
                             std::to_string(d_.port()) + " --purpose service 2>/dev/null",
                         &out),
              0)
        << out;
  }
  json Fit(const std::string& body) {
    auto r = d_.Admin("POST", "/v1/models/clv/fit", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json() : json::object();
  }

  Daemon d_;
};

void ExpectSameFit(const json& a, const json& b) {
  EXPECT_EQ(a["customers"], b["customers"]);
  for (const char* p : {"r", "alpha", "a", "b", "log_likelihood"}) {
    const double x = a["bgnbd"][p], y = b["bgnbd"][p];
    EXPECT_NEAR(x, y, 1e-6 * std::fabs(y)) << p;
  }
  EXPECT_EQ(a["gamma_gamma"]["customers"], b["gamma_gamma"]["customers"]);
  for (const char* p : {"p", "q", "gamma"}) {
    const double x = a["gamma_gamma"][p], y = b["gamma_gamma"][p];
    EXPECT_NEAR(x, y, 1e-6 * std::fabs(y)) << p;
  }
}

TEST_F(ModelBooks, BooksKeptFromTheFirstPurchaseAreReadAndGiveTheFitOfTheEvents) {
  Rules(true);
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  Import("even.jsonl");
  // A merge recomputes the target's book over both histories.
  auto merged = d_.Admin("POST", "/v1/profiles/cdnow-4/merge", R"({"from": "cdnow-18"})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  const json books = Fit(kAfterAll);
  EXPECT_EQ(books["read_from"], "purchase_books");
  EXPECT_GT(books["customers"].get<int>(), 1000);
  const json events = Fit(R"({"until": "1998-06-30T23:59:59Z", "from_events": true})");
  EXPECT_EQ(events["read_from"], "events");
  ExpectSameFit(books, events);
  // A purchase after `until` is in a book but not in the period: the events are read.
  EXPECT_EQ(Fit(R"({"until": "1997-09-30T23:59:59Z"})")["read_from"], "events");
  EXPECT_EQ(d_.Admin("POST", "/v1/models/clv/fit", R"({"from_events": 1})").status, 422);
  // The table says where the fit read from.
  std::string out;
  ASSERT_EQ(
      RunCommand(BinDir() + "/portraitctl model fit clv --from-events --config " +
                     d_.config_path() + " --url http://127.0.0.1:" + std::to_string(d_.port()),
                 &out),
      0)
      << out;
  EXPECT_NE(out.find("read from the events"), std::string::npos) << out;
}

TEST_F(ModelBooks, AModelAddedAfterItsPurchasesHasItsBooksRebuiltFromTheEvents) {
  Rules(false);
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  Import("even.jsonl");
  // The model comes into force after the purchases: its books are rebuilt from the stored events,
  // then read.
  Reload(true);
  ASSERT_TRUE(Rebuilt(1)) << d_.Log();
  const json books = Fit(kAfterAll);
  EXPECT_EQ(books["read_from"], "purchase_books");
  EXPECT_GT(books["customers"].get<int>(), 1000);
  ExpectSameFit(books, Fit(R"({"until": "1998-06-30T23:59:59Z", "from_events": true})"));
  // Purchases made while the model is out of the rules are in no book until the next rebuild.
  Reload(false);
  Import("odd.jsonl");
  Reload(true);
  ASSERT_TRUE(Rebuilt(2)) << d_.Log();
  const json all = Fit(kAfterAll);
  EXPECT_EQ(all["read_from"], "purchase_books");
  EXPECT_GT(all["customers"].get<int>(), books["customers"].get<int>());
  ExpectSameFit(all, Fit(R"({"until": "1998-06-30T23:59:59Z", "from_events": true})"));
  // The marks outlive a restart, which rebuilds nothing more.
  ASSERT_EQ(d_.Stop(), 0);
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  ASSERT_TRUE(Eventually([&] { return Count(d_.Log(), kStartDone) == 2; }));  // this run's too
  EXPECT_EQ(Fit(kAfterAll)["read_from"], "purchase_books");
  EXPECT_EQ(Count(d_.Log(), kRebuiltLine), 2u);
}

// Each sample customer's summed order amounts, from the events file.
std::map<std::string, double> SpentBy(const std::filesystem::path& events) {
  std::map<std::string, double> spent;
  std::ifstream in(events);
  for (std::string line; std::getline(in, line);) {
    const json e = json::parse(line);
    spent[e["subject"]] += e["data"]["amount"].get<double>();
  }
  return spent;
}

TEST_F(ModelBooks, AMetricAddedAfterItsEventsIsRebuiltAndTheRulesReadingItFollow) {
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  Import("even.jsonl");
  const std::string metric = "[[metric]]\nname = \"cd_spent\"\nsum = \"order.placed:";
  const std::string tag =
      "\"\n\n[[tag]]\npath = \"value/big\"\nwhen = \"metrics.cd_spent >= 100\"\n";
  // Defined over the CDs bought, then at once over the amounts: a pass under the first rules
  // stops at the reload (whenever it comes), and the values end as the second rules define them.
  Reload(false, metric + "items" + tag);
  Reload(false, metric + "amount" + tag);
  ASSERT_TRUE(Rebuilt(1)) << d_.Log();
  const std::map<std::string, double> spent = SpentBy(d_.dir() / "even.jsonl");
  const auto tags_of = [&](const std::string& subject) {
    auto r = d_.Admin("GET", "/v1/profiles/" + subject);
    return r.status == 200 ? r.json()["tags"] : json::array();
  };
  const auto first_big =
      std::find_if(spent.begin(), spent.end(), [](const auto& s) { return s.second >= 100; });
  ASSERT_NE(first_big, spent.end());
  ASSERT_TRUE(Eventually([&] {
    return tags_of(first_big->first).dump().find("value/big") != std::string::npos;
  })) << d_.Log();
  int big = 0, checked = 0;
  for (const auto& [subject, total] : spent) {
    if (++checked > 60) {
      break;
    }
    auto r = d_.Admin("GET", "/v1/profiles/" + subject);
    ASSERT_EQ(r.status, 200) << r.body;
    const json view = r.json();
    EXPECT_NEAR(view["metrics"]["cd_spent"].get<double>(), total, 1e-9 * total) << subject;
    const json& tags = view["tags"];
    const bool tagged = std::find(tags.begin(), tags.end(), "value/big") != tags.end();
    EXPECT_EQ(tagged, total >= 100) << subject << " spent " << total;
    big += tagged ? 1 : 0;
  }
  EXPECT_GT(big, 0);
  EXPECT_LT(big, 60);
}

}  // namespace
}  // namespace portrait
