#include "store/profile_vault.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crypto/field_cipher.h"
#include "store/erasure_notice.h"
#include "store/task_state.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

using nlohmann::json;

class ProfileVaultTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  config::Config config_ = testing::WriteTestConfig(dir_);
  DataDir data_ = InitDataDir(config_).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  config::ConfigHolder in_force_{std::make_shared<const config::Config>(config_)};
  ProfileVault vault_{in_force_, *data_.store, data_.keys, data_.blind, clock_};
};

TEST_F(ProfileVaultTest, UpsertCreatesAndGetDecrypts) {
  auto r = vault_.Upsert("crm-1", json::parse(R"({
    "fields": {"name": "张伟", "phone": "138 1234 5678", "email": "Zhang@Example.com",
               "birthday": "1990-02-28", "score": 7.5, "vip": true, "gender": "male"},
    "tags": {"add": ["interest/sports/running", "vip"]},
    "timezone": "Europe/London"})"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->created);
  EXPECT_GT(r->id, 0);
  auto p = vault_.Get("crm-1");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->id, r->id);
  EXPECT_EQ(p->external_id, "crm-1");
  EXPECT_EQ(p->fields["name"], "张伟");
  EXPECT_EQ(p->fields["phone"], "+8613812345678");
  EXPECT_EQ(p->fields["score"], 7.5);
  EXPECT_EQ(p->fields["vip"], true);
  EXPECT_EQ(p->tags, (std::vector<std::string>{"interest/sports/running", "vip"}));
  EXPECT_EQ(p->timezone, "Europe/London");
  EXPECT_EQ(p->created_us, clock_.NowUs());
}

TEST_F(ProfileVaultTest, OpenMetricsBuildsOnlyTheEntriesAsked) {
  auto created = vault_.Upsert("crm-1", json::parse(R"({"fields": {"name": "x"}})"));
  ASSERT_TRUE(created) << created.error().ToString();
  auto open = vault_.Open(created->id);
  ASSERT_TRUE(open) << open.error().ToString();
  const json metrics = json::parse(
      R"({"orders": 3, "$top": {"sku": {"a": 2, "b": 1}}, "$purchases": {"m": {"days": [[1, 2]]}},
          "spent": 9.5})");
  auto sealed = vault_.SealMetrics(*open, metrics);
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  ProfileRow row = open->row;
  row.metrics = *sealed;
  auto all = ProfileVault::OpenMetrics(open->key, row);
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(*all, metrics);
  const std::vector<std::string> only = {"orders", "$purchases", "absent"};
  auto some = ProfileVault::OpenMetrics(open->key, row, &only);
  ASSERT_TRUE(some) << some.error().ToString();
  EXPECT_EQ(*some, json({{"orders", 3}, {"$purchases", metrics["$purchases"]}}));
  row.metrics[row.metrics.size() / 2] ^= 1;  // tampered: refused, whatever is asked
  EXPECT_FALSE(ProfileVault::OpenMetrics(open->key, row, &only));
}

TEST_F(ProfileVaultTest, PartialMergeKeepsUnnamedFieldsAndNullRemoves) {
  ASSERT_TRUE(vault_.Upsert("c", json::parse(R"({"fields": {"name": "A", "city": "Hangzhou"},
                                                 "tags": {"add": ["x", "y"]}})")));
  clock_.Advance(std::chrono::seconds(10));
  auto again = vault_.Upsert("c", json::parse(R"({"fields": {"city": null, "score": 1},
                                                   "tags": {"remove": ["x"]}})"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  auto p = vault_.Get("c").value();
  EXPECT_EQ(p.fields, json::parse(R"({"name": "A", "score": 1})"));
  EXPECT_EQ(p.tags, std::vector<std::string>{"y"});
  EXPECT_EQ(p.updated_us - p.created_us, 10'000'000);
}

TEST_F(ProfileVaultTest, BadInputNamesTheFieldAndWritesNothing) {
  ASSERT_TRUE(vault_.Upsert("c", json::parse(R"({"fields": {"name": "Old", "city": "Xi'an"}})")));
  struct Case {
    const char* patch;
    const char* names;
  } cases[] = {
      {R"({"fields": {"city": "New", "nmae": "x"}})", "unknown field 'nmae'"},
      {R"({"fields": {"city": "New", "birthday": "1990-02-30"}})", "field 'birthday'"},
      {R"({"fields": {"city": "New", "score": "high"}})", "field 'score'"},
      {R"({"fields": {"city": "New", "phone": "555"}})", "field 'phone'"},
      {R"({"fields": {"city": "New"}, "timezone": "Moon/Base"})", "timezone"},
      {R"({"fields": {"city": "New"}, "tags": {"add": ["a/b/c/d"]}})", "tags"},
      {R"({"fields": {"city": "New"}, "colour": 1})", "unknown key 'colour'"},
      // A field "name" that is really a value (a file keyed by email) is not repeated.
      {R"({"fields": {"city": "New", "ann@example.com": 1}})",
       "unknown field (a 15-byte name, not shown)"},
  };
  for (const Case& c : cases) {
    auto r = vault_.Upsert("c", json::parse(c.patch));
    ASSERT_FALSE(r) << c.patch;
    EXPECT_EQ(r.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.names), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(vault_.Get("c").value().fields, json::parse(R"({"name": "Old", "city": "Xi'an"})"));
  auto fresh = vault_.Upsert("new-one", json::parse(R"({"fields": {"nmae": "x"}})"));
  ASSERT_FALSE(fresh);
  EXPECT_EQ(vault_.Get("new-one").error().code(), Status::Code::kNotFound);
  EXPECT_EQ(data_.store->CountProfiles().value(), 1);
}

TEST_F(ProfileVaultTest, ErrorsNeverCarryPersonalValues) {
  const std::string marker = "MARKER-3141-secret";
  auto r = vault_.Upsert(marker, json::parse(R"({"fields": {"birthday": ")" + marker + R"("}})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find(marker), std::string::npos);
  auto g = vault_.Get(marker);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().message().find(marker), std::string::npos);
}

TEST_F(ProfileVaultTest, FindUsesTheBlindIndexAfterNormalising) {
  auto a = vault_.Upsert("a", json::parse(R"({"fields": {"email": "Li.Na@Example.com",
                                                          "phone": "+86 138-1234-5678"}})"));
  auto b = vault_.Upsert("b", json::parse(R"({"fields": {"email": "other@example.com"}})"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(vault_.Find("email", " li.na@EXAMPLE.com").value(), std::vector<ProfileId>{a->id});
  EXPECT_EQ(vault_.Find("phone", "13812345678").value(), std::vector<ProfileId>{a->id});
  EXPECT_TRUE(vault_.Find("email", "nobody@example.com").value().empty());
  EXPECT_FALSE(vault_.Find("name", "x"));  // not blind-indexed
  ASSERT_TRUE(vault_.Upsert("a", json::parse(R"({"fields": {"email": null}})")));
  EXPECT_TRUE(vault_.Find("email", "li.na@example.com").value().empty());
}

TEST_F(ProfileVaultTest, EraseShredsTheKeyAndDeletesRows) {
  auto a =
      vault_.Upsert("a", json::parse(R"({"fields": {"email": "a@example.com", "name": "A"}})"));
  ASSERT_TRUE(vault_.Upsert("b", json::parse(R"({"fields": {"name": "B"}})")));
  ASSERT_TRUE(a);
  auto receipt = vault_.Erase("a");
  ASSERT_TRUE(receipt) << receipt.error().ToString();
  EXPECT_EQ(receipt->id, a->id);
  EXPECT_EQ(receipt->fields, 2);
  EXPECT_EQ(vault_.Get("a").error().code(), Status::Code::kNotFound);
  EXPECT_FALSE(data_.store->GetDataKey(a->id).value());
  EXPECT_TRUE(vault_.Find("email", "a@example.com").value().empty());
  EXPECT_EQ(vault_.Get("b").value().fields["name"], "B");
  EXPECT_EQ(vault_.Erase("a").error().code(), Status::Code::kNotFound);
}

TEST_F(ProfileVaultTest, AnErasureThroughAnAliasNamesTheProfilesOwnIdToItsSinks) {
  auto ann = vault_.Upsert("ann", json::parse(R"({"fields": {"name": "Ann"}})"));
  ASSERT_TRUE(ann);
  Batch batch;
  batch.aliases.push_back(AliasRow{vault_.ExtKey("ann-old"), ann->id, 0, clock_.NowUs()});
  TaskRow sent;  // the sink "crm" received ann's data, under her own id
  sent.dedupe = "sent";
  sent.profile_id = ann->id;
  sent.trigger = "welcome";
  sent.sink = "crm";
  sent.state = TaskStateName(TaskState::kDelivered);
  sent.attempts = 1;
  batch.tasks.push_back(sent);
  ASSERT_TRUE(data_.store->Commit(batch));

  ASSERT_TRUE(vault_.Erase("ann-old"));
  const std::vector<TaskRow> tasks = data_.store->GetTasks(ann->id).value();
  std::vector<TaskRow> notices;
  for (const TaskRow& t : tasks) {
    if (t.trigger == kErasureNotice) {
      notices.push_back(t);
    }
  }
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].sink, "crm");
  EXPECT_EQ(OpenErasureNotice(data_.keys, notices[0]).value(), "ann");
}

// A merge cut off between its commit and the destruction of the merged profile's key leaves an
// alias that lets it finish; erasing the target removes that alias, so the erasure finishes it.
// Both destroyed keys are reported to the listener (which drops the daemon's cached copies).
TEST_F(ProfileVaultTest, ErasingATargetDestroysTheKeyACutOffMergeLeft) {
  std::vector<ProfileId> destroyed;
  vault_.OnKeyDestroyed([&](ProfileId id) { destroyed.push_back(id); });
  auto target = vault_.Upsert("t", json::parse(R"({"fields": {"name": "T"}})"));
  auto source = vault_.Upsert("s", json::parse(R"({"fields": {"name": "S"}})"));
  ASSERT_TRUE(target && source);
  Batch merged;  // what a merge commits; its key destruction never ran
  merged.erasures.push_back(source->id);
  merged.aliases.push_back(AliasRow{vault_.ExtKey("s"), target->id, source->id, clock_.NowUs()});
  ASSERT_TRUE(data_.store->Commit(merged));
  ASSERT_TRUE(data_.store->GetDataKey(source->id).value());

  ASSERT_TRUE(vault_.Erase("t"));
  EXPECT_FALSE(data_.store->GetDataKey(source->id).value());
  EXPECT_FALSE(data_.store->GetDataKey(target->id).value());
  EXPECT_TRUE(data_.store->GetMergedIds().value().empty());
  EXPECT_EQ(destroyed, (std::vector<ProfileId>{source->id, target->id}));
}

TEST_F(ProfileVaultTest, CiphertextMovedToAnotherProfileOrFieldFailsToOpen) {
  auto a = vault_.Upsert("a", json::parse(R"({"fields": {"name": "A", "city": "C"}})")).value();
  auto b = vault_.Upsert("b", json::parse(R"({"fields": {"name": "B"}})")).value();
  std::string a_name = data_.store->GetFields(a.id).value().at("name");

  ProfileWrite to_b;  // a's sealed name pasted into b's name
  to_b.row = data_.store->GetProfile(b.id).value().value();
  to_b.set_fields["name"] = a_name;
  Batch batch;
  batch.profiles.push_back(to_b);
  ASSERT_TRUE(data_.store->Commit(batch));
  auto got_b = vault_.Get("b");
  ASSERT_FALSE(got_b);
  EXPECT_EQ(got_b.error().code(), Status::Code::kCorruption);

  ProfileWrite to_city;  // a's sealed name pasted into a's city
  to_city.row = data_.store->GetProfile(a.id).value().value();
  to_city.set_fields["city"] = a_name;
  batch.profiles = {to_city};
  ASSERT_TRUE(data_.store->Commit(batch));
  EXPECT_EQ(vault_.Get("a").error().code(), Status::Code::kCorruption);

  ProfileWrite flipped;  // a's own sealed name with one flipped byte, city removed
  flipped.row = to_city.row;
  flipped.set_fields["name"] = a_name;
  flipped.set_fields["name"][a_name.size() - 1] ^= 0x20;
  flipped.removed_fields = {"city"};
  batch.profiles = {flipped};
  ASSERT_TRUE(data_.store->Commit(batch));
  EXPECT_EQ(vault_.Get("a").error().code(), Status::Code::kCorruption);
}

// The import hands the created profiles to the timer step as they were stored, so it needn't
// unwrap and decrypt them again: each must equal what opening the stored profile gives, and a
// row whose profile appeared between preparing and committing is not among them.
// Each profile an import writes gets its own audit record (its history shows the change); a row
// whose profile lost its key to an erasure that stopped halfway is reported, not the request.
TEST_F(ProfileVaultTest, AnImportAuditsEachProfileItWritesAndAHalfErasedOneFailsOnlyItsRow) {
  auto kept = vault_.Upsert("kept", json::parse(R"({"fields": {"city": "Xi'an"}})"));
  auto half = vault_.Upsert("half", json::parse(R"({"fields": {"city": "Xi'an"}})"));
  ASSERT_TRUE(kept && half);
  ASSERT_TRUE(data_.store->DestroyDataKey(half->id).ok());  // the erasure's first step only
  std::vector<ImportRow> rows;
  rows.push_back(ImportRow{2, "kept", json::parse(R"({"fields": {"city": "Hangzhou"}})")});
  rows.push_back(ImportRow{3, "half", json::parse(R"({"fields": {"city": "Hangzhou"}})")});
  rows.push_back(ImportRow{4, "new", json::parse(R"({"fields": {"city": "Hangzhou"}})")});
  rows.push_back(ImportRow{5, "same", json::parse(R"({"fields": {"city": "Xi'an"}})")});
  // Matched to "other" with the values it has: no field changes, but its id becomes an alias.
  rows.push_back(ImportRow{6, "other-2", json::parse(R"({"fields": {"city": "Xi'an"}})")});
  ASSERT_TRUE(vault_.Upsert("same", json::parse(R"({"fields": {"city": "Xi'an"}})")));
  auto other = vault_.Upsert("other", json::parse(R"({"fields": {"city": "Xi'an"}})"));
  ASSERT_TRUE(other);
  PreparedImport prepared = vault_.PrepareImport(std::move(rows));
  ASSERT_EQ(prepared.rows.back().external_id, "other-2");
  prepared.rows.back().merge_into = other->id;
  const int64_t before = data_.store->AuditHead().value().first;
  auto counts = vault_.CommitImport(std::move(prepared),
                                    AuditEntry{clock_.NowUs(), "t", "profiles.import", 0, "", ""});
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ(counts->created, 1);
  EXPECT_EQ(counts->updated, 1);
  EXPECT_EQ(counts->unchanged, 1);
  EXPECT_EQ(counts->merged, 1);
  ASSERT_EQ(counts->errors.size(), 1u);
  EXPECT_EQ(counts->errors[0].line, 3);
  const std::vector<AuditRecord> records = data_.store->ReadAudit(before, 100).value();
  std::map<ProfileId, std::string> audited;  // profile -> detail
  for (const AuditRecord& r : records) {
    if (r.entry.action == "profile.import") {
      EXPECT_TRUE(audited.emplace(r.entry.profile_id, r.entry.detail).second);
    }
  }
  const ProfileId created = vault_.IdOf("new").value();
  // The unchanged row wrote nothing, so no record; the alias is recorded under its profile.
  EXPECT_EQ(audited,
            (std::map<ProfileId, std::string>{
                {kept->id, "{}"}, {created, "{}"}, {other->id, R"({"alias_added":true})"}}));
  EXPECT_EQ(vault_.IdOf("other-2").value(), other->id);
}

TEST_F(ProfileVaultTest, ImportHandsOverCreatedProfilesAsStored) {
  auto row = [](int64_t line, std::string id, const char* patch) {
    return ImportRow{line, std::move(id), json::parse(patch)};
  };
  std::vector<ImportRow> rows;
  rows.push_back(row(2, "new-1", R"({"fields": {"name": "张伟", "phone": "138 1234 5678",
      "email": "Zhang@Example.com", "birthday": "2000-02-29"},
      "tags": {"add": ["vip", "a", "vip"], "remove": ["a"]}, "timezone": "Europe/London"})"));
  rows.push_back(row(3, "new-2", R"({"fields": {"city": "Hangzhou"}})"));
  rows.push_back(row(4, "raced", R"({"fields": {"city": "Xi'an"}})"));
  PreparedImport prepared = vault_.PrepareImport(std::move(rows));
  ASSERT_TRUE(prepared.errors.empty());
  ASSERT_TRUE(vault_.Upsert("raced", json::parse(R"({"fields": {"name": "B"}})")));
  clock_.Advance(std::chrono::seconds(5));
  auto counts = vault_.CommitImport(std::move(prepared),
                                    AuditEntry{clock_.NowUs(), "t", "profiles.import", 0, "", ""});
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ(counts->created, 2);
  EXPECT_EQ(counts->updated, 1);
  ASSERT_EQ(counts->created_open.size(), 2u);
  for (OpenProfile& handed : counts->created_open) {
    auto stored = vault_.Open(handed.row.id);
    ASSERT_TRUE(stored) << stored.error().ToString();
    EXPECT_FALSE(handed.is_new);
    EXPECT_EQ(handed.profile.external_id, stored->profile.external_id);
    EXPECT_EQ(handed.profile.fields, stored->profile.fields);
    EXPECT_EQ(handed.profile.tags, stored->profile.tags);
    EXPECT_EQ(handed.profile.timezone, stored->profile.timezone);
    EXPECT_EQ(handed.profile.lifecycle, stored->profile.lifecycle);
    EXPECT_EQ(handed.profile.metrics, stored->profile.metrics);
    EXPECT_EQ(handed.profile.created_us, stored->profile.created_us);
    EXPECT_EQ(handed.profile.updated_us, stored->profile.updated_us);
    EXPECT_EQ(handed.row.external_id, stored->row.external_id);
    EXPECT_EQ(handed.row.tags, stored->row.tags);
    // The handed key is the stored one: what it seals, the stored key opens.
    auto sealed = vault_.Seal(handed, "probe", "x").value();
    EXPECT_EQ(vault_.OpenFor(handed.row.id, "probe", sealed).value(), "x");
  }
  EXPECT_EQ(counts->created_open[0].profile.fields["phone"], "+8613812345678");
  EXPECT_EQ(counts->created_open[0].profile.tags, std::vector<std::string>{"vip"});
}

}  // namespace
}  // namespace portrait::store
