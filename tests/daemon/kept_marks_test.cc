// KeptMarks over a real SQLCipher store: a rebuild whose values the portrait does not read marks
// them complete without asking for a base-wide re-evaluation; one it reads does (the rebuild
// count, part of the re-evaluation's target, moves).
#include "daemon/kept_marks.h"

#include <gtest/gtest.h>

#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

const std::string kMetrics =
    "[[metric]]\nname = \"orders\"\ncount = \"order.placed\"\n"
    "[[metric]]\nname = \"visits\"\ncount = \"page.viewed\"\n"
    "[[tag]]\npath = \"buyer\"\nwhen = \"metrics.orders > 0\"\n";
const std::string kModel =
    "[[model]]\nname = \"clv\"\nkind = \"bgnbd\"\npurchases = \"order.placed\"\n"
    "amount = \"amount\"\n";

class KeptMarksTest : public ServiceFixture {
 protected:
  rules::RuleSet Rules(const std::string& text) {
    auto set = rules::ParseRules({config::SourceFile{"rules.toml", text}}, config_);
    EXPECT_TRUE(set) << set.error().ToString();
    return set ? std::move(*set) : rules::RuleSet{};
  }
  static KeptTargets Of(const rules::RuleSet& set, const std::vector<std::string>& metrics,
                        bool models) {
    KeptTargets t;
    for (const rules::Metric& m : set.metrics) {
      if (std::find(metrics.begin(), metrics.end(), m.name) != metrics.end()) {
        t.metrics.push_back(m);
      }
    }
    if (models) {
      t.models = set.models;
    }
    return t;
  }
  int64_t Rebuilds() { return MetaCount(store_, kRebuildsKey).value(); }

  KeptMarks marks_{store_, audit_};
};

TEST_F(KeptMarksTest, ThePortraitReadsAMetricItsConditionsNameAndABookItsPredictionsUse) {
  const rules::RuleSet plain = Rules(kMetrics + kModel);
  EXPECT_TRUE(Of(plain, {"orders"}, false).ReadByPortrait(plain));  // the tag reads it
  EXPECT_FALSE(Of(plain, {"visits"}, false).ReadByPortrait(plain));
  EXPECT_FALSE(Of(plain, {}, true).ReadByPortrait(plain));  // nothing reads its predictions

  const rules::RuleSet predicting =
      Rules(kMetrics + kModel +
            "[[segment]]\nname = \"lapsing\"\nwhen = \"predict.clv.p_alive < 0.5\"\n");
  EXPECT_TRUE(Of(predicting, {}, true).ReadByPortrait(predicting));
}

TEST_F(KeptMarksTest, OnlyARebuildThePortraitReadsMovesTheRebuildCount) {
  const rules::RuleSet set = Rules(kMetrics);
  RebuildCounts counts;
  counts.profiles = 10;
  counts.changed = 4;
  ASSERT_TRUE(marks_
                  .MarkRebuilt(Of(set, {"visits"}, false), marks_.generation(), counts,
                               /*portrait_reads=*/false, clock_.NowUs())
                  .value());
  EXPECT_EQ(Rebuilds(), 0);
  ASSERT_TRUE(marks_
                  .MarkRebuilt(Of(set, {"orders"}, false), marks_.generation(), counts,
                               /*portrait_reads=*/true, clock_.NowUs())
                  .value());
  EXPECT_EQ(Rebuilds(), 1);

  // A change left by a pass cut off is cleared by the next mark, counted only when read.
  store::Batch cut_off;
  cut_off.meta[std::string(kRebuildChangedKey)] = "1";
  ASSERT_TRUE(store_.Commit(cut_off));
  ASSERT_TRUE(marks_
                  .MarkRebuilt(Of(set, {"visits"}, false), marks_.generation(), RebuildCounts{},
                               /*portrait_reads=*/false, clock_.NowUs())
                  .value());
  EXPECT_EQ(Rebuilds(), 1);
  EXPECT_EQ(MetaCount(store_, kRebuildChangedKey).value(), 0);
}

}  // namespace
}  // namespace portrait::daemon
