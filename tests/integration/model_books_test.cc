// A fit reads the customers' purchase books instead of the events exactly when the books are
// known to hold every stored purchase (daemon/book_marks.h): rules with the model in force
// before the first purchase, or a fit from the events that found the books agreeing with them.
// A real daemon, half of the CDNOW sample imported as events.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/integration/cdnow_events.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::RunCommand;

constexpr const char* kModel = R"toml(
[[model]]
name = "clv"
kind = "bgnbd"
purchases = "order.placed"
amount = "amount"
unit = "week"
)toml";

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
  void Rules(bool with_model) {
    std::ofstream(d_.dir() / "rules/cdnow.toml") << (with_model ? kModel : "");
  }
  void Reload(bool with_model) {
    Rules(with_model);
    auto r = d_.Admin("POST", "/v1/admin/reload");
    ASSERT_EQ(r.status, 200) << r.body;
  }
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

TEST_F(ModelBooks, AFitFromTheEventsMarksTheBooksOnlyWhenTheyAgree) {
  Rules(true);
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  Import("even.jsonl");
  // The model leaves and comes back with nothing bought meanwhile: its mark goes, its books stay
  // whole, and the first fit, from the events, finds them agreeing.
  Reload(false);
  Reload(true);
  const json checked = Fit(kAfterAll);
  EXPECT_EQ(checked["read_from"], "events");
  EXPECT_TRUE(d_.WaitForLog("the purchase books agree with the events"));
  const json books = Fit(kAfterAll);
  EXPECT_EQ(books["read_from"], "purchase_books");
  ExpectSameFit(books, checked);
  // Purchases made while the model is out of the rules are in no book: the events are read, and
  // go on being read, whatever the number of fits.
  Reload(false);
  Import("odd.jsonl");
  Reload(true);
  const json all = Fit(kAfterAll);
  EXPECT_EQ(all["read_from"], "events");
  EXPECT_GT(all["customers"].get<int>(), books["customers"].get<int>());
  EXPECT_EQ(Fit(kAfterAll)["read_from"], "events");
  // Across a restart too.
  ASSERT_EQ(d_.Stop(), 0);
  ASSERT_TRUE(d_.Start("1998-07-01T00:00:00Z"));
  EXPECT_EQ(Fit(kAfterAll)["read_from"], "events");
}

}  // namespace
}  // namespace portrait
