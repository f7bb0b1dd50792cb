// The stored parameters of a fitted model are not trusted to have the shape written: a row of
// another shape is Corruption naming the member, never a throw; a row written before the fit
// counted what it skipped reads with those counts at 0.
#include "daemon/derived_params.h"

#include <gtest/gtest.h>

namespace portrait::daemon {
namespace {

using nlohmann::json;

json Stored() {
  FittedModel m{.name = "clv", .version = 3, .fitted_us = 5, .until_us = 4};
  m.customers = 10;
  m.events = 30;
  m.without_amount = 2;
  m.unreadable = 1;
  m.bgnbd = {0.25, 4.4, 0.8, 2.4};
  m.log_likelihood = -95.5;
  return json::parse(ModelParamsJson(m));
}

store::ModelRow Row(const json& params) {
  return store::ModelRow{"bgnbd", "clv", 3, params.dump(), 5};
}

TEST(DerivedParams, AStoredModelReadsBackWithItsSkippedCounts) {
  auto m = ParseModelRow(Row(Stored()));
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  EXPECT_EQ(m->events, 30);
  EXPECT_EQ(m->without_amount, 2);
  EXPECT_EQ(m->unreadable, 1);
  EXPECT_EQ(m->unit, analytics::TimeUnit::kWeek);
  const json answer = ModelAnswer(*m);
  EXPECT_EQ(answer["without_amount"], 2);
  EXPECT_EQ(answer["unreadable"], 1);
}

TEST(DerivedParams, ARowWrittenBeforeTheCountsReadsThemAsZero) {
  json old = Stored();
  old.erase("without_amount");
  old.erase("unreadable");
  auto m = ParseModelRow(Row(old));
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  EXPECT_EQ(m->without_amount, 0);
  EXPECT_EQ(m->unreadable, 0);
}

TEST(DerivedParams, AStoredUnitOrCountOfTheWrongShapeIsCorruptionNotAThrow) {
  for (const json& unit : {json(5), json::array({"day"}), json(nullptr), json("fortnight")}) {
    json bad = Stored();
    bad["unit"] = unit;
    auto m = ParseModelRow(Row(bad));
    ASSERT_FALSE(m.has_value()) << unit.dump();
    EXPECT_EQ(m.error().code(), Status::Code::kCorruption);
    EXPECT_NE(m.error().message().find("unit"), std::string::npos);
  }
  for (const json& count : {json("3"), json(-1), json(1e300)}) {
    json bad = Stored();
    bad["unreadable"] = count;
    auto m = ParseModelRow(Row(bad));
    ASSERT_FALSE(m.has_value()) << count.dump();
    EXPECT_EQ(m.error().code(), Status::Code::kCorruption);
  }
  json day = Stored();
  day["unit"] = "day";
  EXPECT_EQ(ParseModelRow(Row(day)).value().unit, analytics::TimeUnit::kDay);
}

}  // namespace
}  // namespace portrait::daemon
