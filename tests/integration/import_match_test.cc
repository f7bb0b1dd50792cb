// Identity resolution on import (`portraitctl import profiles FILE --match email,phone`) against
// a real portraitd: rows with new ids merge into the one stored profile their email or phone
// finds, their ids becoming aliases that reads and events reach; rows finding two profiles are
// reported by line and write nothing; a re-run changes nothing; a caller that can't read a match
// field in clear is refused and learns nothing; two rows of one request naming one person are
// decided in request order.
#include <gtest/gtest.h>

#include <fstream>

#include "config/loader.h"
#include "store/data_dir.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::RunCommand;

constexpr int kPeople = 1'000;

std::string Phone(int i) {  // +86 139 …, written nationally in the files
  char phone[16];
  std::snprintf(phone, sizeof phone, "139%08d", i);
  return phone;
}
std::string Email(int i) { return "person" + std::to_string(i) + "@example.com"; }

// Runs portraitctl import profiles (purpose service unless `extra` names one); its stdout (the
// --json summary), stderr in `err`.
std::string Import(const Daemon& d, const std::string& file, const std::string& extra, int* rc,
                   std::string* err = nullptr) {
  const std::string err_path = d.dir() / "import.err";
  std::string out;
  *rc =
      RunCommand(BinDir() + "/portraitctl import profiles " + file + " --json --config " +
                     d.config_path() + " --url http://127.0.0.1:" + std::to_string(d.port()) +
                     (extra.find("--purpose") == std::string::npos ? " --purpose service " : " ") +
                     extra + " 2>" + err_path,
                 &out);
  if (err) {
    std::ifstream in(err_path);
    err->assign(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

size_t StoredProfiles(const Daemon& d) {  // the daemon must be stopped
  auto config = config::LoadConfig(d.config_path()).value();
  store::DataDir data = store::OpenDataDir(config).value();
  size_t n = 0;
  for (store::ProfileId after = 0;;) {
    std::vector<store::ProfileId> ids = data.store->ProfileIds(after, 1000).value();
    if (ids.empty()) {
      return n;
    }
    n += ids.size();
    after = ids.back();
  }
}

// A row of POST /v1/import/profiles.
json Row(int line, const std::string& id, const json& fields) {
  return json{{"line", line}, {"id", id}, {"fields", fields}};
}

// kPeople profiles P0… with an email and a phone each, then S1 and S2 sharing one email.
void WritePeople(const std::string& path) {
  std::ofstream out(path);
  for (int i = 0; i < kPeople; ++i) {
    out << json{{"id", "P" + std::to_string(i)},
                {"fields",
                 {{"name", "Person " + std::to_string(i)},
                  {"email", Email(i)},
                  {"phone", Phone(i)},
                  {"city", "Beijing"}}}}
               .dump()
        << "\n";
  }
  out << R"({"id": "S1", "fields": {"email": "shared@example.com"}})"
      << "\n";
  out << R"({"id": "S2", "fields": {"email": "shared@example.com"}})"
      << "\n";
}

// The CRM's export: new ids crm-0…, even ones found by email (written differently), odd ones by
// phone; line kPeople + 1 has the email of one person and the phone of another, line kPeople + 2
// the shared email.
void WriteCrm(const std::string& path) {
  std::ofstream out(path);
  for (int i = 0; i < kPeople; ++i) {
    json fields = {{"city", "Shenzhen"}};
    if (i % 2 == 0) {
      fields["email"] = "  Person" + std::to_string(i) + "@EXAMPLE.com";
    } else {
      fields["phone"] = Phone(i);
    }
    out << json{{"id", "crm-" + std::to_string(i)}, {"fields", fields}, {"tags", {"crm"}}}.dump()
        << "\n";
  }
  out << json{{"id", "crm-two"},
              {"fields", {{"email", Email(1)}, {"phone", Phone(2)}, {"city", "Nowhere"}}}}
             .dump()
      << "\n";
  out << R"({"id": "crm-shared", "fields": {"email": "shared@example.com", "city": "Nowhere"}})"
      << "\n";
}

// The --errors file: line -> {"field", "reason"}; no line may carry an email.
std::map<int64_t, json> ReadReport(const std::string& path) {
  std::ifstream in(path);
  std::map<int64_t, json> reported;
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.find("example.com"), std::string::npos) << "a value in the report: " << line;
    json e = json::parse(line);
    reported[e["line"].get<int64_t>()] = {{"field", e["field"]}, {"reason", e["reason"]}};
  }
  return reported;
}

class ImportMatch : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(d_.Start()); }

  json Read(const std::string& id) {
    auto r = d_.Admin("GET", "/v1/profiles/" + id);
    return r.status == 200 ? json::parse(r.body) : json{{"status", r.status}};
  }
  std::vector<json> AuditRecords(const std::string& action) {
    std::vector<json> out;
    const json records = d_.Admin("GET", "/v1/audit?after=0&limit=10000").json()["records"];
    for (const json& r : records) {
      if (r["action"] == action) {
        out.push_back(r);
      }
    }
    return out;
  }
  json Post(const json& body) {
    auto r = d_.Admin("POST", "/v1/import/profiles", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json::object();
  }

  // Reads by an alias return the merged profile with the row's values written to it; the audit
  // records count every merge.
  void ExpectMergedAndAudited() {
    for (int i : {0, 1, 998, 999}) {
      json view = Read("crm-" + std::to_string(i));
      EXPECT_EQ(view["id"], "P" + std::to_string(i));
      EXPECT_EQ(view["internal_id"], Read("P" + std::to_string(i))["internal_id"]);
      EXPECT_EQ(view["fields"]["city"], "Shenzhen");
      // The row's values overwrite, as an update would (an email keeps its case, trimmed).
      EXPECT_EQ(view["fields"]["email"],
                i % 2 ? Email(i) : "Person" + std::to_string(i) + "@EXAMPLE.com");
      EXPECT_EQ(view["tags"], json::array({"crm"}));
    }
    int64_t created = 0;
    int64_t merged = 0;
    for (const json& record : AuditRecords("profiles.import")) {
      created += record["detail"]["created"].get<int64_t>();
      merged += record["detail"].value("merged", int64_t{0});
    }
    EXPECT_EQ(created, kPeople + 2);
    EXPECT_EQ(merged, kPeople);
  }
  void ExpectEventsToAnAliasReachItsProfile() {
    json events = json::array();
    for (int n = 0; n < 3; ++n) {
      events.push_back({{"id", "alias-order-" + std::to_string(n)},
                        {"type", "order.placed"},
                        {"subject", "crm-7"},
                        {"data", {{"amount", 20}, {"category", "tea"}}}});
    }
    ASSERT_EQ(d_.Admin("POST", "/v1/events", events.dump()).status, 202);
    EXPECT_TRUE(testing::Eventually([&] { return Read("P7")["metrics"].value("orders", 0) == 3; }))
        << Read("P7").dump();
    EXPECT_EQ(Read("crm-7")["metrics"]["orders"], 3);
  }

  Daemon d_;
};

TEST_F(ImportMatch, RowsMergeByEmailOrPhoneAmbiguousOnesAreReportedAndAReRunChangesNothing) {
  const std::string people = d_.dir() / "people.jsonl";
  WritePeople(people);
  int rc = 0;
  std::string err;
  std::string summary = Import(d_, people, "", &rc, &err);
  ASSERT_EQ(rc, 0) << summary << err;
  ASSERT_EQ(json::parse(summary)["imported"], kPeople + 2);

  const std::string crm = d_.dir() / "crm.jsonl";
  WriteCrm(crm);
  const std::string errors = d_.dir() / "errors.jsonl";
  summary = Import(d_, crm, "--match email,phone --errors " + errors, &rc);
  EXPECT_EQ(rc, 1) << summary;
  EXPECT_EQ(json::parse(summary), (json{{"read", kPeople + 2},
                                        {"imported", 0},
                                        {"merged", kPeople},
                                        {"failed", 2},
                                        {"duplicates", 0}}));
  const std::string ambiguous = "matches more than one profile";
  EXPECT_EQ(
      ReadReport(errors),
      (std::map<int64_t, json>{{kPeople + 1, {{"field", "email,phone"}, {"reason", ambiguous}}},
                               {kPeople + 2, {{"field", "email"}, {"reason", ambiguous}}}}));
  EXPECT_EQ(Read("crm-two")["status"], 404);
  EXPECT_EQ(Read("crm-shared")["status"], 404);
  for (const std::string id : {"P1", "P2", "S1", "S2"}) {
    EXPECT_NE(Read(id)["fields"]["city"], "Nowhere") << id;
  }
  ExpectMergedAndAudited();
  ExpectEventsToAnAliasReachItsProfile();

  // The same file again: every merged id is an alias now, a known id: nothing changes.
  summary = Import(d_, crm, "--match email,phone", &rc);
  EXPECT_EQ(rc, 1) << summary;
  EXPECT_EQ(json::parse(summary), (json{{"read", kPeople + 2},
                                        {"imported", 0},
                                        {"merged", 0},
                                        {"failed", 2},
                                        {"duplicates", kPeople}}));
  ASSERT_EQ(d_.Stop(), 0);
  EXPECT_EQ(StoredProfiles(d_), static_cast<size_t>(kPeople + 2)) << "a profile was created";
}

TEST_F(ImportMatch, ACallerThatCantReadTheMatchFieldInClearIsRefusedAndLearnsNothing) {
  ASSERT_EQ(d_.Admin("PUT", "/v1/profiles/ann",
                     json{{"fields", {{"email", "ann@example.com"}, {"phone", Phone(5)}}}}.dump())
                .status,
            201);
  // care_agent writes profiles and reads phones in clear, emails masked.
  const std::string care = d_.CreateToken("care", "care_agent");
  const std::string as_care = "--token " + care + " --purpose care --match email";
  std::string outputs[2];  // the summary and the error line (the progress line tells times)
  const std::string emails[2] = {"ann@example.com", "nobody@example.com"};
  for (int k = 0; k < 2; ++k) {
    const std::string file = d_.dir() / ("guess" + std::to_string(k) + ".jsonl");
    std::ofstream(file)
        << json{{"id", "guess-" + std::to_string(k)}, {"fields", {{"email", emails[k]}}}}.dump()
        << "\n";
    int rc = 0;
    std::string err;
    outputs[k] = Import(d_, file, as_care, &rc, &err);
    EXPECT_EQ(rc, 1) << outputs[k];
    EXPECT_NE(err.find("403"), std::string::npos) << err;
    EXPECT_NE(err.find("email"), std::string::npos) << err;
    EXPECT_EQ(err.find("ann@"), std::string::npos) << err;
    const size_t error_line = err.find("portraitctl import profiles: ");
    ASSERT_NE(error_line, std::string::npos) << err;
    outputs[k] += err.substr(error_line, err.find('\n', error_line) - error_line);
    EXPECT_EQ(Read("guess-" + std::to_string(k))["status"], 404) << "the refused row was written";
  }
  EXPECT_EQ(outputs[0], outputs[1]) << "the answer differs with whether the email is stored";
  const std::vector<json> refused = AuditRecords("request.refused");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0]["detail"], (json{{"match_by", "email"}}));
  EXPECT_TRUE(AuditRecords("profiles.import").empty());

  // The phone, which it reads in clear, it may match by.
  auto r = d_.client().Send(
      "POST", "/v1/import/profiles",
      json{{"rows",
            json::array({{{"line", 1}, {"id", "ann-care"}, {"fields", {{"phone", Phone(5)}}}}})},
           {"match", {"phone"}}}
          .dump(),
      {{"Authorization", "Bearer " + care}, {"X-Purpose", "care"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["merged"], 1);
  EXPECT_EQ(Read("ann-care")["id"], "ann");

  // An undeclared field is refused as find refuses it, 403, so the answer does not tell which
  // names are declared fields; a declared field that is not blind-indexed, and a bad list, 422.
  auto undeclared =
      d_.Admin("POST", "/v1/import/profiles",
               json{{"rows", json::array()}, {"match", {"email", "shoe_size"}}}.dump());
  EXPECT_EQ(undeclared.status, 403) << undeclared.body;
  EXPECT_EQ(undeclared.body.find("shoe_size"), std::string::npos) << undeclared.body;
  for (const json& match :
       {json{"city"}, json::array(), json{42}, json("email"), json{std::string(100'000, 'x')}}) {
    auto bad = d_.Admin("POST", "/v1/import/profiles",
                        json{{"rows", json::array()}, {"match", match}}.dump());
    EXPECT_EQ(bad.status, 422) << match.dump() << " " << bad.body;
    EXPECT_NE(bad.body.find("match"), std::string::npos) << bad.body;
    EXPECT_LT(bad.body.size(), 1'000u) << "the request echoed back";
  }
}

// Matching follows find: a profile whose customer objected to the purpose is not matched under
// it (a "merged" would confirm an email a read hides); the row makes a profile of its own.
TEST_F(ImportMatch, AProfileWhoseLedgerHidesTheFieldIsNotMatchedUnderThatPurpose) {
  ASSERT_EQ(d_.Admin("PUT", "/v1/profiles/obj", R"({"fields":{"email":"obj@example.com"}})").status,
            201);
  ASSERT_EQ(d_.Admin("POST", "/v1/profiles/obj/consents",
                     R"({"purpose":"care","channel":"any","status":"objected"})")
                .status,
            201);
  const json body = {{"match", {"email"}},
                     {"rows", {Row(1, "obj-crm", {{"email", "obj@example.com"}})}}};
  auto care = d_.Admin("POST", "/v1/import/profiles", body.dump(), "care");
  ASSERT_EQ(care.status, 200) << care.body;
  EXPECT_EQ(care.json()["merged"], 0);
  EXPECT_EQ(care.json()["created"], 1);
  EXPECT_NE(Read("obj-crm")["internal_id"], Read("obj")["internal_id"]);
  // Under a purpose the objection does not touch, the same value finds the profile.
  const json again = {{"match", {"email"}},
                      {"rows", {Row(1, "obj-shop", {{"email", "obj@example.com"}})}}};
  auto service = d_.Admin("POST", "/v1/import/profiles", again.dump(), "service");
  ASSERT_EQ(service.status, 200) << service.body;
  EXPECT_EQ(service.json()["merged"], 0);  // two profiles hold it now: ambiguous
  EXPECT_EQ(service.json()["errors"].size(), 1u) << service.body;
}

TEST_F(ImportMatch, RowsOfOneRequestNamingOnePersonAreDecidedInRequestOrder) {
  ASSERT_EQ(d_.Admin("PUT", "/v1/profiles/ann",
                     json{{"fields", {{"email", "ann@example.com"}, {"phone", Phone(1)}}}}.dump())
                .status,
            201);
  // An id, then a new id that would become its alias: the second is reported.
  json answer = Post({{"match", {"email", "phone"}},
                      {"rows",
                       {Row(1, "ann", {{"city", "Hangzhou"}}),
                        Row(2, "ann-crm", {{"email", "ANN@example.com"}, {"city", "Xi'an"}})}}});
  EXPECT_EQ(answer["updated"], 1);
  EXPECT_EQ(answer["merged"], 0);
  ASSERT_EQ(answer["errors"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["errors"][0]["line"], 2);
  EXPECT_EQ(Read("ann-crm")["status"], 404);
  EXPECT_EQ(Read("ann")["fields"]["city"], "Hangzhou");

  // The other way round: the new id merges first, its profile's own id is reported.
  answer = Post({{"match", {"email", "phone"}},
                 {"rows",
                  {Row(1, "ann-crm", {{"email", "ann@example.com"}, {"city", "Xi'an"}}),
                   Row(2, "ann", {{"city", "Hangzhou"}})}}});
  EXPECT_EQ(answer["merged"], 1);
  ASSERT_EQ(answer["errors"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["errors"][0]["line"], 2);
  EXPECT_EQ(Read("ann-crm")["id"], "ann");
  EXPECT_EQ(Read("ann")["fields"]["city"], "Xi'an");

  // Two new ids finding one person (by email, by phone): the first merges.
  answer = Post({{"match", {"email", "phone"}},
                 {"rows",
                  {Row(4, "ann-web", {{"phone", Phone(1)}}),
                   Row(3, "ann-app", {{"email", "ann@example.com"}})}}});
  EXPECT_EQ(answer["merged"], 1);
  ASSERT_EQ(answer["errors"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["errors"][0]["line"], 3);
  EXPECT_EQ(Read("ann-web")["id"], "ann");
  EXPECT_EQ(Read("ann-app")["status"], 404);
}

TEST_F(ImportMatch, NewIdsSharingANewValueMakeOneProfileAndTheSecondIsReportedEachTime) {
  // Two new ids sharing an email no profile has: one new profile, the second reported.
  const json twins = {{"match", {"email"}},
                      {"rows",
                       {Row(1, "bo-1", {{"email", "bo@example.com"}}),
                        Row(2, "bo-2", {{"email", "Bo@Example.com"}})}}};
  json answer = Post(twins);
  EXPECT_EQ(answer["created"], 1);
  ASSERT_EQ(answer["errors"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["errors"][0], (json{{"line", 2},
                                       {"field", "email"},
                                       {"reason",
                                        "matches the same person as line 1 of this "
                                        "request"}}));
  EXPECT_EQ(Read("bo-2")["status"], 404);
  // Sent again, the same decision: bo-1 is stored as given, bo-2 still reported.
  answer = Post(twins);
  EXPECT_EQ(answer["unchanged"], 1);
  EXPECT_EQ(answer["merged"], 0);
  EXPECT_EQ(answer["errors"].size(), 1u) << answer.dump();
  // Alone, bo-2 finds bo-1's profile and merges; sent again, it is a known id.
  const json alone = {{"match", {"email"}},
                      {"rows", json::array({Row(1, "bo-2", {{"email", "bo@example.com"}})})}};
  EXPECT_EQ(Post(alone)["merged"], 1);
  answer = Post(alone);
  EXPECT_EQ(answer["merged"], 0);
  EXPECT_EQ(answer["unchanged"], 1);
  EXPECT_EQ(Read("bo-2")["id"], "bo-1");
}

}  // namespace
}  // namespace portrait
