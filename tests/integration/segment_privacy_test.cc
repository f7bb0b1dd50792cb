// Segment members and counts through a real portraitd answer only the customers the caller's
// purpose may process now (its lawful basis; the separate sensitive consent when the segment
// reads a sensitive field), page correctly past those left out, and a reload that starts
// reading the personalisation objection never puts an objector kept open in a marketing segment.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

// Marketing and service may use the metrics and the segments.
void AllowSegments(const Daemon& daemon) {
  std::string config = ReadFile(daemon.config_path());
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"(derived = ["lifecycle"])", R"(derived = ["lifecycle", "metrics", "segments"])"},
           {R"(derived = ["metrics", "lifecycle", "tags"])",
            R"(derived = ["metrics", "lifecycle", "tags", "segments"])"}}) {
    const size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    config.replace(at, from.size(), to);
  }
  WriteFile(daemon.config_path(), config);
}

// Two segments no trigger reads (so neither is a marketing segment): buyers, and one reading
// the sensitive health note.
constexpr std::string_view kPlainSegments = R"toml(
[[segment]]
name = "buyers"
when = "metrics.orders >= 1"

[[segment]]
name = "allergic"
when = "fields.health_note == 'nut allergy'"
)toml";

void Put(Daemon& daemon, const std::string& id, const json& fields) {
  HttpResult r = daemon.Admin("PUT", "/v1/profiles/" + id, json{{"fields", fields}}.dump());
  ASSERT_LT(r.status, 300) << r.body;
}

void Record(Daemon& daemon, const std::string& id, const json& record) {
  HttpResult r = daemon.Admin("POST", "/v1/profiles/" + id + "/consents", record.dump());
  ASSERT_EQ(r.status, 201) << r.body;
}

void Order(Daemon& daemon, const std::string& event_id, const std::string& customer) {
  const json events = json::array({{{"id", event_id},
                                    {"type", "order.placed"},
                                    {"subject", customer},
                                    {"time", "2026-06-01T10:00:00Z"},
                                    {"data", {{"amount", 10}}}}});
  HttpResult r = daemon.Admin("POST", "/v1/events", events.dump());
  ASSERT_EQ(r.status, 202) << r.body;
}

// Every member of `segment` for `purpose`, paged `limit` at a time; fails on a page that does
// not advance or on more pages than members could need.
std::vector<std::string> AllMembers(Daemon& daemon, const std::string& segment,
                                    const std::string& purpose, int limit, int max_pages) {
  std::vector<std::string> out;
  std::string after;  // the opaque cursor of the page before; none for the first
  for (int page = 0; page < max_pages; ++page) {
    HttpResult r =
        daemon.Admin("GET",
                     "/v1/segments/" + segment + "/members?limit=" + std::to_string(limit) +
                         (after.empty() ? "" : "&after=" + after),
                     "", purpose);
    EXPECT_EQ(r.status, 200) << r.body;
    const json body = r.json();
    EXPECT_LE(body["members"].size(), static_cast<size_t>(limit));
    for (const json& m : body["members"]) {
      out.push_back(m.get<std::string>());
    }
    if (body["next_after"].is_null()) {
      return out;
    }
    EXPECT_NE(body["next_after"].get<std::string>(), after) << r.body;
    after = body["next_after"].get<std::string>();
  }
  ADD_FAILURE() << "paging of " << segment << " did not end";
  return out;
}

// The count GET /v1/segments gives `segment` for `purpose`.
json CountOf(Daemon& daemon, const std::string& segment, const std::string& purpose) {
  HttpResult r = daemon.Admin("GET", "/v1/segments", "", purpose);
  EXPECT_EQ(r.status, 200) << r.body;
  const json body = r.json();
  for (const json& s : body["segments"]) {
    if (s["name"] == segment) {
      return s;
    }
  }
  return nullptr;
}

TEST(SegmentPrivacy, AMemberIsListedAndCountedOnlyUnderAPurposeWhoseBasisHolds) {
  Daemon daemon;
  AllowSegments(daemon);
  WriteFile(daemon.dir() / "rules/segments.toml", kPlainSegments);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  // Created in this order, so paged in it: ann consents to marketing, bob never did, cat
  // withdrew, dan objected to service (whose basis is the contract).
  for (const char* id : {"ann", "bob", "cat", "dan"}) {
    Put(daemon, id, {{"name", id}});
  }
  Record(daemon, "ann", {{"purpose", "marketing"}, {"status", "granted"}});
  Record(daemon, "cat", {{"purpose", "marketing"}, {"status", "granted"}});
  Record(daemon, "cat", {{"purpose", "marketing"}, {"status", "withdrawn"}});
  Record(daemon, "dan", {{"purpose", "service"}, {"status", "objected"}});
  for (const char* id : {"ann", "bob", "cat", "dan"}) {
    Order(daemon, std::string("o-") + id, id);
  }

  // One page at a time: after ann, three members are left out and the walk still ends.
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 1, 6), std::vector<std::string>{"ann"});
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 100, 2), std::vector<std::string>{"ann"});
  EXPECT_EQ(AllMembers(daemon, "buyers", "service", 2, 6),
            (std::vector<std::string>{"ann", "bob", "cat"}));
  EXPECT_EQ(CountOf(daemon, "buyers", "marketing"),
            json::parse(R"({"name":"buyers","members":1,"complete":true})"));
  EXPECT_EQ(CountOf(daemon, "buyers", "service")["members"], 3);

  // Bob grants marketing: listed and counted from now on.
  Record(daemon, "bob", {{"purpose", "marketing"}, {"status", "granted"}});
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 1, 6),
            (std::vector<std::string>{"ann", "bob"}));
  EXPECT_EQ(CountOf(daemon, "buyers", "marketing")["members"], 2);
  // The audit counts what was shown, never an id.
  const std::string audit = daemon.Admin("GET", "/v1/audit?after=0&limit=10000").body;
  EXPECT_NE(audit.find("segments.members"), std::string::npos);
  EXPECT_EQ(audit.find("\"bob\""), std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);
}

// A segment no marketing trigger reads keeps an objector as a member; a marketing purpose still
// never sees them in it (a segment is a profiling result), a service purpose does.
TEST(SegmentPrivacy, AMarketingPurposeListsNoObjectorWhateverTheSegment) {
  Daemon daemon;
  AllowSegments(daemon);
  WriteFile(daemon.dir() / "rules/segments.toml", kPlainSegments);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  for (const char* id : {"ann", "eve"}) {
    Put(daemon, id, {{"name", id}});
    Record(daemon, id, {{"purpose", "marketing"}, {"status", "granted"}});
    Order(daemon, std::string("o-") + id, id);
  }
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 10, 2),
            (std::vector<std::string>{"ann", "eve"}));
  Record(daemon, "eve", {{"purpose", "personalisation"}, {"status", "objected"}});
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 10, 2), std::vector<std::string>{"ann"});
  EXPECT_EQ(CountOf(daemon, "buyers", "marketing")["members"], 1);
  EXPECT_EQ(AllMembers(daemon, "buyers", "service", 10, 2),
            (std::vector<std::string>{"ann", "eve"}));
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(SegmentPrivacy, ASegmentReadingASensitiveFieldListsOnlyMembersWithTheSensitiveConsent) {
  Daemon daemon;
  AllowSegments(daemon);
  WriteFile(daemon.dir() / "rules/segments.toml", kPlainSegments);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  Put(daemon, "pat", {{"name", "Pat"}, {"health_note", "nut allergy"}});
  Put(daemon, "sam", {{"name", "Sam"}, {"health_note", "nut allergy"}});
  Record(daemon, "pat", {{"purpose", "service"}, {"scope", "sensitive"}, {"status", "granted"}});
  Order(daemon, "o-pat", "pat");
  Order(daemon, "o-sam", "sam");

  EXPECT_EQ(AllMembers(daemon, "allergic", "service", 1, 4), std::vector<std::string>{"pat"});
  EXPECT_EQ(CountOf(daemon, "allergic", "service")["members"], 1);
  // A segment reading no sensitive field needs no sensitive consent: both are buyers.
  EXPECT_EQ(AllMembers(daemon, "buyers", "service", 10, 2),
            (std::vector<std::string>{"pat", "sam"}));
  // Marketing may not use the health note at all: the segment is not even visible to it.
  EXPECT_EQ(daemon.Admin("GET", "/v1/segments/allergic/members", "", "marketing").status, 404);
  EXPECT_TRUE(CountOf(daemon, "allergic", "marketing").is_null());
  EXPECT_EQ(daemon.Stop(), 0);
}

// Review finding H1: the rules in force read no objection while the objector is active (kept
// open by the writer); a reload adds a marketing segment with a marketing enter trigger. The
// objector enters no marketing segment and gets no task, at the reload's re-evaluation or at
// their next event.
TEST(SegmentPrivacy, AReloadAddingAMarketingSegmentLeavesOutAnObjectorKeptOpen) {
  Daemon daemon;
  AllowSegments(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  for (const char* id : {"obj", "ok"}) {
    Put(daemon, id, {{"name", id}});
    Record(daemon, id, {{"purpose", "marketing"}, {"status", "granted"}});
  }
  Record(daemon, "obj", {{"purpose", "personalisation"}, {"status", "objected"}});
  // Active after the objection: opened again under rules that do not read it.
  Order(daemon, "o-obj-1", "obj");
  Order(daemon, "o-ok-1", "ok");

  auto passes = [&] {
    const std::string log = daemon.Log();
    size_t n = 0;
    for (size_t at = log.find("profiles re-evaluated"); at != std::string::npos;
         at = log.find("profiles re-evaluated", at + 1)) {
      ++n;
    }
    return n;
  };
  const size_t before = passes();
  WriteFile(daemon.dir() / "rules/segments.toml", BuyersSegmentRules());
  HttpResult reload = daemon.Admin("POST", "/v1/admin/reload");
  ASSERT_EQ(reload.status, 200) << reload.body;
  ASSERT_TRUE(Eventually([&] { return passes() > before; })) << daemon.Log();
  Order(daemon, "o-obj-2", "obj");
  Order(daemon, "o-ok-2", "ok");

  EXPECT_EQ(daemon.TasksOf("ok", "buyer-welcome").size(), 1u);
  EXPECT_TRUE(daemon.TasksOf("obj", "buyer-welcome").empty());
  EXPECT_EQ(AllMembers(daemon, "buyers", "marketing", 10, 2), std::vector<std::string>{"ok"});
  EXPECT_EQ(daemon.Stop(), 0);
  // And after a restart (nothing kept open), still so.
  ASSERT_TRUE(daemon.Start("2026-06-01T12:30:00Z"));
  Order(daemon, "o-obj-3", "obj");
  EXPECT_TRUE(daemon.TasksOf("obj", "buyer-welcome").empty());
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait::testing
