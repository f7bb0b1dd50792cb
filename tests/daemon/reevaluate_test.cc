// The base-wide re-evaluation over a real SQLCipher data directory: a pass cut off resumes
// where its last job ended, fills a members index that lacks rows (an older database), is
// recorded so it does not run again, drops the rows of a segment the rules no longer have, and
// runs again from the first profile on a request, which is durable.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "daemon/ingestor.h"
#include "daemon/rules_holder.h"
#include "daemon/timer_rearm.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class ReevaluateTest : public ServiceFixture {
 protected:
  std::shared_ptr<const LoadedRules> Load(const std::string& segments) {
    if (!std::filesystem::exists(dir_ / "rules")) {
      std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
    }
    testing::WriteFile(dir_ / "rules/segments.toml", segments);
    auto loaded = LoadRules(in_force_.Get());
    EXPECT_TRUE(loaded) << loaded.error().ToString();
    return *loaded;
  }
  store::ProfileId Put(const std::string& id, const std::string& city) {
    auto put = vault_.Upsert(id, {{"fields", {{"city", city}}}});
    EXPECT_TRUE(put) << put.error().ToString();
    ingestor_.Forget(put->id);
    EXPECT_TRUE(ingestor_.AfterProfileWrite(put->id).ok());
    return put->id;
  }
  // New rules in force as the daemon's reload puts them: the epoch first, then the rules.
  void Swap(std::shared_ptr<const LoadedRules> next) {
    ASSERT_TRUE(ingestor_.NoteRulesInForce(*next).ok());
    rules_.Set(std::move(next));
  }
  // A whole pass, begun, run and recorded; its start.
  ReevaluationStart Pass() {
    ReevaluationStart start = Begin();
    EXPECT_TRUE(start.needed);
    EXPECT_TRUE(ingestor_.MarkReevaluated(start, Run(start, 2)).ok());
    return start;
  }
  // The rule-driven tags profile `id` carries.
  json RuleTags(store::ProfileId id) {
    auto open = vault_.Open(id);
    EXPECT_TRUE(open) << open.error().ToString();
    return open ? open->profile.metrics.value("$tags", json::array()) : json();
  }
  void Request() {
    store::Batch batch;
    ASSERT_TRUE(AddReevaluationRequest(store_, batch).ok());
    ASSERT_TRUE(audit_.Commit(batch));
  }
  int64_t Count(const std::string& segment) { return store_.CountSegmentMembers(segment).value(); }
  ReevaluationStart Begin() {
    auto start = ingestor_.BeginReevaluation();
    EXPECT_TRUE(start) << start.error().ToString();
    return start ? *start : ReevaluationStart{};
  }
  // Ranges of `limit` from `after`, each checked and then re-evaluated as the scheduler does,
  // until none are left, or `jobs` of them; the totals.
  ReevaluationProgress Run(const ReevaluationStart& start, int limit, int jobs = 1000) {
    ReevaluationProgress total;
    total.last = start.after;
    for (int j = 0; j < jobs; ++j) {
      auto read = ingestor_.ReadForCheck(total.last, limit, std::nullopt, start.scope);
      EXPECT_TRUE(read) << read.error().ToString();
      const ReevaluationCheck check = read ? ingestor_.Check(*read) : ReevaluationCheck{};
      if (check.last == 0) {
        total.last = 0;
        break;
      }
      auto step = ingestor_.ReevaluateProfiles(check, start.pass);
      EXPECT_TRUE(step) << step.error().ToString();
      if (!step) {
        break;
      }
      total.checked += step->checked;
      total.profiles += step->profiles;
      total.index_changes += step->index_changes;
      total.damaged += step->damaged;
      total.last = step->last;
    }
    return total;
  }

  static constexpr const char* kHangzhou =
      "[[segment]]\nname = \"hz\"\nwhen = \"fields.city == 'Hangzhou'\"\n";
  static constexpr const char* kShanghai =
      "[[segment]]\nname = \"sh\"\nwhen = \"fields.city == 'Shanghai'\"\n";
  static constexpr const char* kTagged =
      "[[tag]]\npath = \"city/hz\"\nwhen = \"fields.city == 'Hangzhou'\"\n";

  RulesHolder rules_{Load(kHangzhou)};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
};

TEST_F(ReevaluateTest, APassCutOffResumesFillsTheIndexAndIsRecorded) {
  std::vector<store::ProfileId> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(Put("p" + std::to_string(i), i % 2 == 0 ? "Hangzhou" : "Shanghai"));
  }
  EXPECT_EQ(Count("hz"), 4);  // written with the profiles' transitions
  // An older database: the index empty, the base never evaluated.
  store::Batch wipe;
  wipe.dropped_segments.push_back("hz");
  ASSERT_TRUE(audit_.Commit(wipe));
  ASSERT_EQ(Count("hz"), 0);

  ReevaluationStart start = Begin();
  ASSERT_TRUE(start.needed);
  EXPECT_EQ(start.after, 0);
  ReevaluationProgress first = Run(start, 3, /*jobs=*/1);  // then the daemon stops
  EXPECT_EQ(first.last, ids[2]);
  EXPECT_EQ(first.checked, 3);
  EXPECT_EQ(first.profiles, 2);  // the members the emptied index lacked: p0, p2
  EXPECT_EQ(Count("hz"), 2);

  ReevaluationStart resumed = Begin();  // the next start
  ASSERT_TRUE(resumed.needed);
  EXPECT_EQ(resumed.after, ids[2]);
  EXPECT_EQ(resumed.fingerprint, start.fingerprint);
  ReevaluationProgress rest = Run(resumed, 3);
  EXPECT_EQ(rest.checked, 4);
  EXPECT_EQ(rest.profiles, 2);  // p4, p6
  EXPECT_EQ(first.index_changes + rest.index_changes, 4);
  EXPECT_EQ(Count("hz"), 4);
  ASSERT_TRUE(ingestor_.MarkReevaluated(resumed, rest).ok());
  EXPECT_FALSE(Begin().needed);
  EXPECT_TRUE(ingestor_.PortraitEvaluated().value());
}

TEST_F(ReevaluateTest, ARuleChangeDropsAGoneSegmentAndARequestStartsOver) {
  for (int i = 0; i < 4; ++i) {
    Put("q" + std::to_string(i), i < 3 ? "Hangzhou" : "Shanghai");
  }
  ReevaluationStart start = Begin();
  ASSERT_TRUE(start.needed);
  ASSERT_TRUE(ingestor_.MarkReevaluated(start, Run(start, 2)).ok());
  ASSERT_EQ(Count("hz"), 3);

  rules_.Set(Load(kShanghai));
  EXPECT_FALSE(ingestor_.PortraitEvaluated().value());
  ReevaluationStart changed = Begin();
  ASSERT_TRUE(changed.needed);
  EXPECT_NE(changed.fingerprint, start.fingerprint);
  EXPECT_EQ(Count("hz"), 0);  // dropped when the pass began
  ASSERT_TRUE(ingestor_.MarkReevaluated(changed, Run(changed, 2)).ok());
  EXPECT_EQ(Count("sh"), 1);

  Request();  // as a fit's batch does
  ReevaluationStart again = Begin();
  EXPECT_TRUE(again.needed);
  EXPECT_EQ(again.after, 0);
  ReevaluationProgress nothing = Run(again, 10);
  EXPECT_EQ(nothing.checked, 4);
  EXPECT_EQ(nothing.profiles, 0);  // nothing changed: no profile goes to the writer
  EXPECT_EQ(Count("sh"), 1);
}

// A request is durable: it is in the requester's batch, so a restart (a new ingestor over the
// same store) still runs the pass; and a pass begun before the request (which may already have
// passed the profiles the request is about) does not answer it, even when it ends after it.
TEST_F(ReevaluateTest, ARequestSurvivesARestartAndAPassBegunBeforeItDoesNotAnswerIt) {
  for (int i = 0; i < 5; ++i) {
    Put("r" + std::to_string(i), "Hangzhou");
  }
  ReevaluationStart before = Begin();
  ASSERT_TRUE(before.needed);
  ReevaluationProgress part = Run(before, 2, /*jobs=*/1);
  Request();  // a fit commits while the pass runs
  ReevaluationProgress rest =
      Run({.needed = true, .fingerprint = before.fingerprint, .after = part.last}, 2);
  ASSERT_TRUE(ingestor_.MarkReevaluated(before, rest).ok());
  EXPECT_FALSE(ingestor_.PortraitEvaluated().value());

  Ingestor restarted{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
  auto start = restarted.BeginReevaluation();
  ASSERT_TRUE(start.has_value()) << start.error().ToString();
  ASSERT_TRUE(start->needed);
  EXPECT_EQ(start->after, 0);  // from the first profile
  EXPECT_NE(start->fingerprint, before.fingerprint);
  ReevaluationProgress all = Run(*start, 10);
  EXPECT_EQ(all.checked, 5);
  ASSERT_TRUE(restarted.MarkReevaluated(*start, all).ok());
  EXPECT_TRUE(restarted.PortraitEvaluated().value());
  EXPECT_FALSE(Begin().needed);
}

// The check sends the writer only the profiles a re-evaluation would change — here one whose
// daily re-evaluation timer went missing, which nothing but its timers tells apart.
TEST_F(ReevaluateTest, OnlyTheProfileWhoseTimersDifferGoesToTheWriter) {
  std::vector<store::ProfileId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Put("t" + std::to_string(i), i < 2 ? "Hangzhou" : "Shanghai"));
  }
  ReevaluationStart start = Begin();
  ASSERT_TRUE(ingestor_.MarkReevaluated(start, Run(start, 10)).ok());
  auto has_daily = [&](store::ProfileId id) {
    const std::vector<store::TimerRow> timers = store_.GetTimers(id).value();
    for (const store::TimerRow& t : timers) {
      if (t.trigger == kLifecycleTimer) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(has_daily(ids[1]));
  store::Batch lose;
  lose.cleared_timers.emplace_back(ids[1], std::string(kLifecycleTimer));
  ASSERT_TRUE(audit_.Commit(lose));
  ASSERT_FALSE(has_daily(ids[1]));

  Request();
  ReevaluationProgress pass = Run(Begin(), 10);
  EXPECT_EQ(pass.checked, 3);
  EXPECT_EQ(pass.profiles, 1);
  EXPECT_TRUE(has_daily(ids[1]));
  EXPECT_TRUE(has_daily(ids[0]));
  EXPECT_EQ(Count("hz"), 2);
}

// After a change of [[segment]]s alone, the pass checks only the segments (DECISIONS 178): the
// first pass of an epoch checks everything, later ones after a segments-only change only the
// segments, until a request (a fit the portrait reads) or a change of the other rules.
TEST_F(ReevaluateTest, AChangeOfSegmentsAloneChecksOnlyTheSegments) {
  for (int i = 0; i < 4; ++i) {
    Put("s" + std::to_string(i), i < 3 ? "Hangzhou" : "Shanghai");
  }
  Swap(rules_.Get());                                    // as the daemon's start does
  EXPECT_EQ(Pass().scope, rules::PassScope::kPortrait);  // nothing evaluated in this epoch yet

  Swap(Load(kShanghai));
  ReevaluationStart lean = Begin();
  ASSERT_TRUE(lean.needed);
  EXPECT_EQ(lean.scope, rules::PassScope::kSegments);
  ReevaluationProgress done = Run(lean, 3);
  EXPECT_EQ(done.checked, 4);
  EXPECT_EQ(done.profiles, 1);  // the one in Shanghai enters "sh"
  EXPECT_EQ(Count("sh"), 1);
  EXPECT_EQ(Count("hz"), 0);
  ASSERT_TRUE(ingestor_.MarkReevaluated(lean, done).ok());
  EXPECT_FALSE(Begin().needed);

  Swap(Load(kHangzhou));
  EXPECT_EQ(Pass().scope, rules::PassScope::kSegments);
  EXPECT_EQ(Count("hz"), 3);
  EXPECT_EQ(Count("sh"), 0);

  Request();  // a fit the portrait reads: the tags and stages may change
  EXPECT_EQ(Pass().scope, rules::PassScope::kPortrait);
  Swap(Load(kShanghai));
  EXPECT_EQ(Pass().scope, rules::PassScope::kSegments);

  testing::WriteFile(dir_ / "rules/tagged.toml", kTagged);
  Swap(Load(kShanghai));  // a [[tag]] added
  EXPECT_EQ(Pass().scope, rules::PassScope::kPortrait);
}

// A field a segment reads that cannot be opened sends its profile to the writer, which reports
// it damaged, as when the check opened every field (DECISIONS 179).
TEST_F(ReevaluateTest, AFieldASegmentReadsThatDoesNotOpenSendsItsProfileToTheWriter) {
  Put("a", "Shanghai");
  const store::ProfileId damaged = Put("b", "Shanghai");
  Swap(rules_.Get());
  Pass();
  store::ProfileWrite write;
  write.row = store_.GetProfile(damaged).value().value();
  write.set_fields["city"] = "not an envelope";
  store::Batch batch;
  batch.profiles.push_back(write);
  ASSERT_TRUE(audit_.Commit(batch));

  Swap(Load(kShanghai));
  const ReevaluationStart lean = Begin();
  ASSERT_EQ(lean.scope, rules::PassScope::kSegments);
  const ReevaluationProgress done = Run(lean, 10);
  EXPECT_EQ(done.checked, 2);
  EXPECT_EQ(done.damaged, 1);
  EXPECT_EQ(Count("sh"), 1);  // the profile that opens
}

// A segments-only pass keeps a digest of each profile it finds unchanged (DECISIONS 180); the
// next one reads the digests in place of the profiles, and a profile written since is read
// whole: its digest went with the write.
TEST_F(ReevaluateTest, ASegmentsPassKeepsDigestsTheNextReadsUntilTheProfileChanges) {
  const store::ProfileId a = Put("a", "Hangzhou");
  const store::ProfileId b = Put("b", "Hangzhou");
  Swap(rules_.Get());
  Pass();
  // The profiles a segments-only read finds a digest of.
  auto digested = [&] {
    std::vector<store::ProfileId> out;
    auto read = ingestor_.ReadForCheck(0, 10, std::nullopt, rules::PassScope::kSegments);
    EXPECT_TRUE(read) << read.error().ToString();
    for (const store::PortraitInputs& in : read ? read->profiles : decltype(read->profiles){}) {
      if (!in.digest.empty()) {
        out.push_back(in.row.id);
      }
    }
    return out;
  };
  EXPECT_TRUE(digested().empty());  // a whole pass keeps none

  Swap(Load(kShanghai));
  ReevaluationStart lean = Begin();
  ASSERT_EQ(lean.scope, rules::PassScope::kSegments);
  ReevaluationProgress done = Run(lean, 10);
  ASSERT_TRUE(ingestor_.MarkReevaluated(lean, done).ok());
  EXPECT_EQ(done.profiles, 0);
  EXPECT_EQ(digested(), (std::vector<store::ProfileId>{a, b}));

  Put("b", "Beijing");  // in no segment still
  EXPECT_EQ(digested(), (std::vector<store::ProfileId>{a}));
  EXPECT_EQ(Count("sh"), 0);

  // A new segment of the same field: read from a digest still of Hangzhou, "b" would stay out.
  Swap(Load("[[segment]]\nname = \"away\"\nwhen = \"fields.city != 'Hangzhou'\"\n"));
  lean = Begin();
  ASSERT_EQ(lean.scope, rules::PassScope::kSegments);
  done = Run(lean, 10);
  EXPECT_EQ(done.checked, 2);
  EXPECT_EQ(done.profiles, 1);
  EXPECT_EQ(Count("away"), 1);
  EXPECT_EQ(digested(), (std::vector<store::ProfileId>{a}));  // "b" was written again
}

// Each thread of the check reads its digests one after another into one scratch, whose parts it
// reuses: a profile's membership is decided by its own digest, never by what the one before
// left there.
TEST_F(ReevaluateTest, DigestsReadOneAfterAnotherJudgeEachProfileByItsOwn) {
  const std::vector<std::string> cities = {"Hangzhou", "Shanghai", "Shanghai", "Beijing",
                                           "Hangzhou", "Shanghai", "Beijing",  "Beijing",
                                           "Shanghai", "Hangzhou"};
  std::map<std::string, std::vector<store::ProfileId>> by_city;
  for (size_t i = 0; i < cities.size(); ++i) {
    by_city[cities[i]].push_back(Put("p" + std::to_string(i), cities[i]));
  }
  Swap(rules_.Get());
  Pass();
  // Read whole: the digest of each profile found unchanged is kept; the next pass, the same
  // segment in other words, finds the four who entered it unchanged.
  ReevaluationStart lean;
  for (const char* when : {"fields.city == 'Shanghai'", "fields.city == 'Shang' + 'hai'"}) {
    Swap(Load("[[segment]]\nname = \"sh\"\nwhen = \"" + std::string(when) + "\"\n"));
    lean = Begin();
    ASSERT_EQ(lean.scope, rules::PassScope::kSegments);
    ASSERT_TRUE(ingestor_.MarkReevaluated(lean, Run(lean, 10)).ok());
  }

  Swap(Load(std::string(kShanghai) +
            "[[segment]]\nname = \"bj\"\nwhen = \"fields.city == 'Beijing'\"\n"));
  auto read = ingestor_.ReadForCheck(0, 10, std::nullopt, rules::PassScope::kSegments);
  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_EQ(read->profiles.size(), cities.size());
  for (const store::PortraitInputs& in : read->profiles) {
    EXPECT_FALSE(in.digest.empty()) << in.row.id;
  }
  lean = Begin();
  ASSERT_EQ(lean.scope, rules::PassScope::kSegments);
  const ReevaluationProgress done = Run(lean, 10);  // one range: two threads of five
  EXPECT_EQ(done.checked, 10);
  EXPECT_EQ(done.profiles, 3);  // the three in Beijing, who enter "bj"
  EXPECT_EQ(store_.SegmentMembers("sh", 0, 100).value(), by_city["Shanghai"]);
  EXPECT_EQ(store_.SegmentMembers("bj", 0, 100).value(), by_city["Beijing"]);
}

// A digest that does not open (damaged, or sealed for another spec or stamp) sends its profile
// to the writer, which opens it whole, and is emptied: the next pass reads the profile whole and
// makes its digest again.
TEST_F(ReevaluateTest, ADigestThatDoesNotOpenSendsItsProfileToTheWriterAndIsMadeAgain) {
  const store::ProfileId a = Put("a", "Hangzhou");
  Swap(rules_.Get());
  Pass();
  auto lean_pass = [&](const std::string& segments) {
    Swap(Load(segments));
    const ReevaluationStart lean = Begin();
    EXPECT_EQ(lean.scope, rules::PassScope::kSegments);
    const ReevaluationProgress done = Run(lean, 10);
    EXPECT_TRUE(ingestor_.MarkReevaluated(lean, done).ok());
    return done;
  };
  // The segments-only read of the one profile (an empty one, after a failure, to index safely).
  auto read = [&] {
    auto r = ingestor_.ReadForCheck(0, 10, std::nullopt, rules::PassScope::kSegments);
    EXPECT_TRUE(r && r->profiles.size() == 1);
    if (r && r->profiles.size() == 1) {
      return *r;
    }
    CheckInputs none;
    none.profiles.resize(1);
    return none;
  };
  EXPECT_EQ(lean_pass(kShanghai).profiles, 0);
  const CheckInputs before = read();
  ASSERT_FALSE(before.profiles[0].digest.empty());
  store::Batch damage;
  damage.digests.push_back(store::DigestWrite{a, before.profiles[0].digest_stamp,
                                              before.digest_spec, "not a sealed digest"});
  ASSERT_TRUE(audit_.Commit(damage));
  ASSERT_EQ(read().profiles[0].digest, "not a sealed digest");

  const ReevaluationProgress done =
      lean_pass("[[segment]]\nname = \"sh2\"\nwhen = \"fields.city == 'Shanghai'\"\n");
  EXPECT_EQ(done.profiles, 1);  // to the writer, though its segments did not change
  EXPECT_EQ(done.damaged, 0);   // the profile itself opens
  EXPECT_EQ(Count("sh2"), 0);
  EXPECT_TRUE(read().profiles[0].digest.empty());
  EXPECT_EQ(lean_pass(kShanghai).profiles, 0);
  EXPECT_FALSE(read().profiles[0].digest.empty());
}

// Rules of another epoch in force for a while — here a [[tag]] under which a profile was
// written — keep the next pass whole even when the rules go back to those of the last epoch
// evaluated and only a segment differs from them: the profile's tag must go.
TEST_F(ReevaluateTest, AnotherEpochInBetweenMakesTheNextPassWhole) {
  Put("a", "Hangzhou");
  Swap(rules_.Get());
  Pass();
  testing::WriteFile(dir_ / "rules/tagged.toml", kTagged);
  Swap(Load(kHangzhou));
  const store::ProfileId written = Put("b", "Hangzhou");  // under the tag rule
  EXPECT_EQ(RuleTags(written), json::array({"city/hz"}));

  std::filesystem::remove(dir_ / "rules/tagged.toml");
  Swap(Load(kShanghai));  // the first epoch's rules but for a segment
  EXPECT_EQ(Pass().scope, rules::PassScope::kPortrait);
  EXPECT_EQ(RuleTags(written), json::array());
  EXPECT_EQ(Count("sh"), 0);
  Swap(Load(kHangzhou));
  EXPECT_EQ(Pass().scope, rules::PassScope::kSegments);
  EXPECT_EQ(Count("hz"), 2);
}

}  // namespace
}  // namespace portrait::daemon
