// Identity matching for import's --match (daemon/identity.h) over a real SQLCipher data
// directory: none, one, ambiguous, normalisation, aliases attached in a batch, and 1,000 rows.
#include "daemon/identity.h"

#include <gtest/gtest.h>

#include "daemon/import_identity.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

std::string Phone(int i) {
  char digits[8];
  std::snprintf(digits, sizeof digits, "%04d", i);
  return "+861380000" + std::string(digits);  // 11-digit CN mobile numbers
}

class IdentityTest : public ServiceFixture {
 protected:
  store::ProfileId Make(const std::string& id, json fields) {
    auto made = vault_.Upsert(id, {{"fields", fields}});
    EXPECT_TRUE(made) << made.error().ToString();
    return made ? made->id : 0;
  }
  IdentityMatch Match(json fields) {
    auto m = matcher_.Match(fields, {"email", "phone"});
    EXPECT_TRUE(m) << m.error().ToString();
    return m ? *m : IdentityMatch{};
  }

  IdentityMatcher matcher_{config_, store_, data_.blind};
};

TEST_F(IdentityTest, NoneOneAndAmbiguous) {
  const store::ProfileId ann = Make("ann", {{"email", "Ann@Example.com"}, {"phone", Phone(1)}});
  const store::ProfileId bob = Make("bob", {{"email", "bob@example.com"}, {"phone", Phone(2)}});
  EXPECT_EQ(Match({{"email", "nobody@example.com"}}).kind, MatchKind::kNone);
  EXPECT_EQ(Match({{"name", "Ann"}}).kind, MatchKind::kNone);  // no match field in the row
  EXPECT_EQ(Match({{"email", nullptr}}).kind, MatchKind::kNone);
  // Normalised as stored: the email's case, the phone written without its country code.
  IdentityMatch by_email = Match({{"email", "  ann@EXAMPLE.com "}});
  EXPECT_EQ(by_email.kind, MatchKind::kOne);
  EXPECT_EQ(by_email.profile_id, ann);
  IdentityMatch by_phone = Match({{"phone", Phone(2).substr(3)}});
  EXPECT_EQ(by_phone.kind, MatchKind::kOne);
  EXPECT_EQ(by_phone.profile_id, bob);
  IdentityMatch both = Match({{"email", "ann@example.com"}, {"phone", Phone(1)}});
  EXPECT_EQ(both.kind, MatchKind::kOne);
  EXPECT_EQ(both.profile_id, ann);
  // Email and phone pointing at two different profiles: ambiguous, and no id is given.
  IdentityMatch two = Match({{"email", "ann@example.com"}, {"phone", Phone(2)}});
  EXPECT_EQ(two.kind, MatchKind::kAmbiguous);
  EXPECT_EQ(two.profile_id, 0);
}

TEST_F(IdentityTest, TwoProfilesSharingAnEmailAreAmbiguous) {
  Make("c1", {{"email", "shared@example.com"}});
  Make("c2", {{"email", "shared@example.com"}});
  EXPECT_EQ(Match({{"email", "shared@example.com"}}).kind, MatchKind::kAmbiguous);
}

TEST_F(IdentityTest, BadValuesAndFieldsAreRefusedNamingTheFieldNeverTheValue) {
  auto bad = matcher_.Match({{"phone", "call-me-maybe-12"}}, {"email", "phone"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("phone"), std::string::npos);
  EXPECT_EQ(bad.error().message().find("call-me-maybe"), std::string::npos);
  for (const std::vector<std::string>& fields :
       {std::vector<std::string>{"name"}, {"nope"}, {}, {"email", "city"}}) {
    Status s = IdentityMatcher::CheckMatchFields(config_, fields);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << ::testing::PrintToString(fields);
  }
  EXPECT_TRUE(IdentityMatcher::CheckMatchFields(config_, {"email", "phone"}).ok());
  EXPECT_FALSE(matcher_.Match(json::array(), {"email"}));
  EXPECT_FALSE(NewAlias(vault_, std::string("a\0b", 3), 1, Now()));
  EXPECT_FALSE(NewAlias(vault_, "", 1, Now()));
  EXPECT_FALSE(NewAlias(vault_, std::string(257, 'x'), 1, Now()));
}

// 1,000 rows with new ids, each carrying the email or the phone of an existing profile; every
// 100th carries one profile's email and the next one's phone. The matched rows' ids become
// aliases in one batch, and reach their profiles afterwards.
TEST_F(IdentityTest, AThousandRowsMatchByEmailOrPhoneAndAmbiguousOnesAreReported) {
  constexpr int kRows = 1000;
  std::vector<store::ProfileId> ids;
  for (int i = 0; i <= kRows; ++i) {
    ids.push_back(Make("crm-" + std::to_string(i),
                       {{"email", "u" + std::to_string(i) + "@ex.com"}, {"phone", Phone(i)}}));
  }
  store::Batch batch;
  int ambiguous = 0;
  std::vector<int> matched;
  for (int i = 0; i < kRows; ++i) {
    json row = i % 2 == 0 ? json{{"email", "U" + std::to_string(i) + "@EX.com"}}
                          : json{{"phone", Phone(i)}};
    if (i % 100 == 0) {
      row["phone"] = Phone(i + 1);
    }
    IdentityMatch m = Match(row);
    if (m.kind == MatchKind::kAmbiguous) {
      ++ambiguous;
      continue;
    }
    ASSERT_EQ(m.kind, MatchKind::kOne) << "row " << i;
    ASSERT_EQ(m.profile_id, ids[i]) << "row " << i;
    batch.aliases.push_back(
        NewAlias(vault_, "shop-" + std::to_string(i), m.profile_id, Now()).value());
    matched.push_back(i);
  }
  EXPECT_EQ(ambiguous, 10);
  ASSERT_EQ(matched.size(), 990u);
  ASSERT_TRUE(audit_.Commit(batch));
  for (int i : matched) {
    auto id = vault_.IdOf("shop-" + std::to_string(i));
    ASSERT_TRUE(id) << "row " << i;
    EXPECT_EQ(*id, ids[i]);
  }
  EXPECT_FALSE(vault_.IdOf("shop-0"));  // the ambiguous rows got no alias
  EXPECT_EQ(store_.CountProfiles().value(), kRows + 1);
}

// ResolveIdentities between PrepareImport and CommitImport: a match merges (alias in the same
// commit), a shared new value and a second row of one profile are reported in request order,
// an ambiguous row writes nothing; the counts reach the audit record.
TEST_F(IdentityTest, ResolvedImportRowsMergeOnceAndRowsOfOnePersonAreReportedInOrder) {
  const store::ProfileId ann = Make("ann", {{"email", "ann@example.com"}, {"phone", Phone(1)}});
  Make("c1", {{"email", "shared@example.com"}});
  Make("c2", {{"email", "shared@example.com"}});
  auto row = [](int64_t line, std::string id, json fields) {
    return store::ImportRow{line, std::move(id), {{"fields", std::move(fields)}}};
  };
  std::vector<store::ImportRow> rows;
  rows.push_back(row(1, "ann-crm", {{"email", "ANN@example.com"}, {"city", "Xi'an"}}));
  rows.push_back(row(2, "new-1", {{"email", "new@example.com"}}));
  rows.push_back(row(3, "new-2", {{"email", " New@Example.com"}}));  // the person of line 2
  rows.push_back(row(4, "ann-app", {{"phone", Phone(1)}}));          // ann, named at line 1
  rows.push_back(row(5, "c3", {{"email", "shared@example.com"}}));   // two profiles
  rows.push_back(row(6, "c4", {{"email", "c1@x.example"}, {"city", "Lhasa"}}));
  store::PreparedImport prepared = vault_.PrepareImport(std::move(rows));
  ASSERT_TRUE(ResolveIdentities(matcher_, store_, {"email", "phone"}, nullptr, prepared).ok());
  auto counts = vault_.CommitImport(std::move(prepared), {0, "test", "profiles.import", 0, "", ""});
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ(counts->created, 2);
  EXPECT_EQ(counts->merged, 1);
  EXPECT_EQ(counts->updated, 0);
  std::map<int64_t, std::pair<std::string, std::string>> errors;
  for (const store::ImportError& e : counts->errors) {
    errors[e.line] = {e.field, e.reason};
  }
  EXPECT_EQ(errors,
            (std::map<int64_t, std::pair<std::string, std::string>>{
                {3, {"email", "matches the same person as line 2 of this request"}},
                {4, {"id", "names the same profile as an earlier row (one id is an alias)"}},
                {5, {"email", "matches more than one profile"}}}));
  EXPECT_EQ(vault_.IdOf("ann-crm").value(), ann);
  EXPECT_EQ(vault_.Get("ann-crm")->fields["city"], "Xi'an");
  EXPECT_FALSE(vault_.IdOf("new-2"));
  EXPECT_FALSE(vault_.IdOf("ann-app"));
  EXPECT_FALSE(vault_.IdOf("c3"));
  EXPECT_EQ(store_.GetAliases(ann)->size(), 1u);

  // Again: ann-crm is a known id (unchanged), not a second merge.
  std::vector<store::ImportRow> again;
  again.push_back(row(1, "ann-crm", {{"email", "ANN@example.com"}, {"city", "Xi'an"}}));
  prepared = vault_.PrepareImport(std::move(again));
  ASSERT_TRUE(ResolveIdentities(matcher_, store_, {"email", "phone"}, nullptr, prepared).ok());
  counts = vault_.CommitImport(std::move(prepared), {0, "test", "profiles.import", 0, "", ""});
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ(counts->merged, 0);
  EXPECT_EQ(counts->unchanged, 1);
  EXPECT_EQ(store_.GetAliases(ann)->size(), 1u);
}

}  // namespace
}  // namespace portrait::daemon
