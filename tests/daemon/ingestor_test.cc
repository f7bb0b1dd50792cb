// The ingestor over a real SQLCipher data directory: event data sealed ahead of the writer is
// used only while the profile it was sealed for still stands.
#include "daemon/ingestor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "daemon/rules_holder.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class IngestorTest : public ServiceFixture {
 protected:
  // The example rules, copied beside the config and loaded (before the members that use them).
  std::shared_ptr<const LoadedRules> ExampleRules() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
    std::ofstream(dir_ / "rules/welcome.toml") << R"([[trigger]]
id = "welcome"
purpose = "care"
on.lifecycle = { from = "new", to = "active" }
task = "welcome"
channel = "email"
sink = "care-queue"
message = "Welcome"
)";
    auto loaded = LoadRules(in_force_.Get());
    EXPECT_TRUE(loaded) << loaded.error().ToString();
    EXPECT_FALSE((*loaded)->set.metrics.empty());
    return *loaded;
  }

  std::vector<IncomingEvent> Events(std::string_view subject, int n) {
    json body = json::array();
    for (int i = 0; i < n; ++i) {
      body.push_back({{"specversion", "1.0"},
                      {"id", std::string(subject) + "-ev-" + std::to_string(i)},
                      {"source", "test"},
                      {"type", "page.viewed"},
                      {"subject", subject},
                      {"data", {{"n", i}}}});
    }
    auto events = ParseCloudEvents(body, Now(), data_.blind);
    EXPECT_TRUE(events) << events.error().ToString();
    return *events;
  }

  Status Apply(std::vector<IncomingEvent> events) {
    IngestRequest request{std::move(events), "test", "service"};
    auto counts = ingestor_.ApplyEvents({&request});
    return counts ? Status::Ok() : counts.error();
  }

  // Every stored event of `external_id`'s profile, opened with its key now, in `n` order.
  std::vector<json> StoredData(std::string_view external_id) {
    std::vector<json> out;
    const store::ProfileId id = vault_.IdOf(external_id).value();
    const std::vector<store::EventRow> rows = store_.GetEvents(id).value();
    for (const store::EventRow& row : rows) {
      auto data = vault_.OpenFor(id, store::kEventDataField, row.data);
      EXPECT_TRUE(data) << data.error().ToString();
      out.push_back(data ? json::parse(*data) : json());
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a["n"] < b["n"]; });
    return out;
  }

  RulesHolder rules_{ExampleRules()};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
};

TEST_F(IngestorTest, UsesDataSealedAheadForAnExistingProfile) {
  ASSERT_TRUE(vault_.Upsert("c-1", json{{"fields", {{"name", "A"}}}}));
  std::vector<IncomingEvent> events = Events("c-1", 3);
  ingestor_.SealKnownSubjects(events);
  const store::ProfileId id = vault_.IdOf("c-1").value();
  for (const IncomingEvent& e : events) {
    EXPECT_EQ(e.sealed_for, id);
    EXPECT_FALSE(e.sealed_data.empty());
  }
  const std::string first_sealed = events[0].sealed_data;
  ASSERT_TRUE(Apply(std::move(events)).ok());
  std::vector<json> stored = StoredData("c-1");
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0]["n"], 0);
  EXPECT_EQ(stored[2]["n"], 2);
  bool stored_as_sealed = false;  // not sealed again by the writer
  const std::vector<store::EventRow> rows = store_.GetEvents(id).value();
  for (const store::EventRow& row : rows) {
    stored_as_sealed |= row.data == first_sealed;
  }
  EXPECT_TRUE(stored_as_sealed);
}

TEST_F(IngestorTest, LeavesNewSubjectsToTheWriter) {
  std::vector<IncomingEvent> events = Events("c-new", 2);
  ingestor_.SealKnownSubjects(events);
  EXPECT_EQ(events[0].sealed_for, 0);
  ASSERT_TRUE(Apply(std::move(events)).ok());
  EXPECT_EQ(StoredData("c-new").size(), 2u);
}

// New subjects of one group get their keys together, stored before the group's ciphertexts:
// every new profile opens, and its events read back.
TEST_F(IngestorTest, NewSubjectsOfOneGroupAreStoredWithTheirKeys) {
  std::vector<IncomingEvent> a = Events("n-1", 2);
  std::vector<IncomingEvent> b = Events("n-2", 1);
  std::vector<IncomingEvent> more = Events("n-3", 1);
  b.push_back(more[0]);
  IngestRequest first{std::move(a), "test", "service"};
  IngestRequest second{std::move(b), "test", "service"};
  auto counts = ingestor_.ApplyEvents({&first, &second});
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ((*counts)[0].accepted, 2);
  EXPECT_EQ((*counts)[1].accepted, 2);
  for (const char* subject : {"n-1", "n-2", "n-3"}) {
    const store::ProfileId id = vault_.IdOf(subject).value();
    EXPECT_TRUE(store_.GetDataKey(id).value().has_value()) << subject;
    EXPECT_TRUE(vault_.GetById(id)) << subject;
  }
  EXPECT_EQ(StoredData("n-1").size(), 2u);
  EXPECT_EQ(StoredData("n-3").size(), 1u);
}

TEST_F(IngestorTest, ReSealsWhenTheProfileWasErasedMeanwhile) {
  // Data sealed before the erasure is under the shredded key: stored as it is, it could never
  // be read. The writer seals it again for the profile the subject has now.
  ASSERT_TRUE(vault_.Upsert("c-2", json{{"fields", {{"name", "B"}}}}));
  const store::ProfileId old_id = vault_.IdOf("c-2").value();
  std::vector<IncomingEvent> events = Events("c-2", 2);
  ingestor_.SealKnownSubjects(events);
  ASSERT_EQ(events[0].sealed_for, old_id);
  ASSERT_TRUE(vault_.Erase("c-2"));
  ingestor_.Forget(old_id);
  ASSERT_TRUE(Apply(std::move(events)).ok());
  EXPECT_NE(vault_.IdOf("c-2").value(), old_id);
  std::vector<json> stored = StoredData("c-2");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1]["n"], 1);
}

// The second request for a subject is sealed from memory; once the profile is erased and
// forgotten, its key is no longer used (nor kept): the next request is left to the writer.
TEST_F(IngestorTest, AForgottenProfilesKeyIsNotUsedAgain) {
  ASSERT_TRUE(vault_.Upsert("c-4", json{{"fields", {{"name", "D"}}}}));
  const store::ProfileId old_id = vault_.IdOf("c-4").value();
  std::vector<IncomingEvent> first = Events("c-4", 1);
  ingestor_.SealKnownSubjects(first);
  ASSERT_EQ(first[0].sealed_for, old_id);
  std::vector<IncomingEvent> again = Events("c-4", 2);
  ingestor_.SealKnownSubjects(again);
  EXPECT_EQ(again[1].sealed_for, old_id);
  ASSERT_TRUE(vault_.Erase("c-4"));
  ingestor_.Forget(old_id);
  std::vector<IncomingEvent> after = Events("c-4", 1);
  ingestor_.SealKnownSubjects(after);
  EXPECT_EQ(after[0].sealed_for, 0);
  EXPECT_TRUE(after[0].sealed_data.empty());
  ASSERT_TRUE(Apply(std::move(after)).ok());
  EXPECT_EQ(StoredData("c-4").size(), 1u);
}

// A metric stored with a type no event can read back (an overflowing sum was once stored as
// null) is reset and audited, and the customer's next event is taken.
TEST_F(IngestorTest, RepairsAStoredMetricOfTheWrongTypeAndAuditsIt) {
  ASSERT_TRUE(vault_.Upsert("c-3", json{{"fields", {{"name", "C"}}}}));
  const store::ProfileId id = vault_.IdOf("c-3").value();
  store::OpenProfile open = vault_.Open(id).value();
  open.profile.metrics = {{"spent", nullptr}, {"orders", "many"}, {"last_order", 1.5}};
  store::Batch poison;
  poison.profiles.push_back(vault_.StateWrite(open, Now()).value());
  ASSERT_TRUE(store_.Commit(poison));

  json order = {{"specversion", "1.0"},   {"id", "c-3-o"},    {"source", "test"},
                {"type", "order.placed"}, {"subject", "c-3"}, {"data", {{"amount", 7}}}};
  auto events = ParseCloudEvents(order, Now(), data_.blind);
  ASSERT_TRUE(events);
  ASSERT_TRUE(Apply(std::move(*events)).ok());

  const json metrics = vault_.Get("c-3").value().metrics;
  EXPECT_EQ(metrics["spent"], 7) << metrics.dump();
  EXPECT_EQ(metrics["orders"], 1) << metrics.dump();
  EXPECT_TRUE(metrics["last_order"].is_number_integer()) << metrics.dump();
  bool audited = false;
  const std::vector<store::AuditRecord> records = store_.ReadAudit(0, 1000).value();
  for (const store::AuditRecord& r : records) {
    if (r.entry.action == "profile.repaired" && r.entry.profile_id == id) {
      audited = true;
      const json detail = json::parse(r.entry.detail);
      EXPECT_EQ(detail["metrics"].size(), 3u) << r.entry.detail;
    }
  }
  EXPECT_TRUE(audited);
}

// A customer whose first contact is an event takes the stage "new" before the event, as one
// created through the API does, so leaving "new" fires for both.
TEST_F(IngestorTest, AFirstContactByEventPassesThroughTheNewStage) {
  ASSERT_TRUE(vault_.Upsert("by-api", json{{"fields", {{"name", "D"}}}}));
  ASSERT_TRUE(ingestor_.AfterProfileWrite(vault_.IdOf("by-api").value()).ok());
  for (const char* subject : {"by-api", "by-event"}) {
    json order = {{"specversion", "1.0"}, {"id", std::string(subject) + "-o"},
                  {"source", "test"},     {"type", "order.placed"},
                  {"subject", subject},   {"data", {{"amount", 7}}}};
    auto events = ParseCloudEvents(order, Now(), data_.blind);
    ASSERT_TRUE(events);
    ASSERT_TRUE(Apply(std::move(*events)).ok());
    store::TaskFilter welcomes;
    welcomes.trigger = "welcome";
    welcomes.profile_id = vault_.IdOf(subject).value();
    EXPECT_EQ(store_.ListTasks(welcomes).value().size(), 1u) << subject;
    EXPECT_EQ(vault_.Get(subject).value().lifecycle, "active") << subject;
  }
}

}  // namespace
}  // namespace portrait::daemon
